"""Write constraints.txt: the exact version of every runtime dependency of guardbot, from the
environment this runs in. The Docker image installs with `pip install --constraint constraints.txt`,
so an image built today and one built next month hold the same code.

    .venv/bin/python deploy/constraints.py > constraints.txt

Run it in a venv where `pip install -e .` (or `make demo`) has just installed guardbot; the dev
tools (`.[dev]`) are left out because only guardbot's own requirements are followed. Markers are
evaluated for this machine (Linux, CPython 3.11 like the image), so a Windows-only dependency does
not appear.
"""

from __future__ import annotations

import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def closure(root: str = "guardbot") -> dict[str, str]:
    """{canonical name: installed version} of everything `root` needs at run time."""
    pinned: dict[str, str] = {}
    extras_seen: dict[str, set[str]] = {}
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    while todo:
        name, extras = todo.pop()
        key = canonicalize_name(name)
        if key in pinned and extras <= extras_seen[key]:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            sys.exit(f"{name} is required but not installed here; run `pip install -e .` first")
        pinned[key] = dist.version
        extras_seen.setdefault(key, set()).update(extras)
        for raw in dist.requires or []:
            req = Requirement(raw)
            wanted = extras_seen[key] or {""}
            if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in wanted):
                continue  # another platform's, or an extra nobody asked for (guardbot[dev])
            todo.append((req.name, frozenset(req.extras)))
    pinned.pop(canonicalize_name(root))
    # sqlite-utils lists pip (for its `install` command); the image's pip is the base image's own,
    # and pinning the venv's (often old) pip would only downgrade it
    pinned.pop("pip", None)
    return pinned


def main() -> None:
    print("# Exact versions of guardbot's runtime dependencies (the Docker image installs with these).")
    print("# Regenerate: .venv/bin/python deploy/constraints.py > constraints.txt")
    for name, version in sorted(closure().items()):
        print(f"{name}=={version}")


if __name__ == "__main__":
    main()
