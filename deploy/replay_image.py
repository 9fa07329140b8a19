"""Replay the Docker image's build and run steps on this machine, for hosts with no Docker engine.

    make image-replay            (or: python deploy/replay_image.py [--keep])

It reads the Dockerfile and does what `docker build` and `docker run` would, under a scratch root
that stands for the image's file system (/src, /opt/guardbot, /data, /config):
- build stage: COPYs the same files, then runs the stage's RUN lines as written (paths mapped), so
  the venv is installed from the package registry at the versions of constraints.txt — a
  non-editable install, as in the image, not this checkout's `.venv`;
- final stage: the image's user (uid/gid 10001, via setpriv when run as root), /data owned by it,
  the config read-only, the image's ENV, WORKDIR and ENTRYPOINT + CMD (`guardbot run`), against
  the built-in emulator with the secret passed as NAME_FILE;
- then asks the HEALTHCHECK command until it passes, reads /metrics, runs `guardbot status` as
  `docker exec` would, and stops the daemon with SIGTERM as `docker stop` does (10 s grace).
What it cannot check is the base image itself (python:3.11-slim); this machine's Python 3.11
stands in for it. It prints one JSON summary; any failed step exits 1 with one line saying which.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE_DIRS = ("/opt/guardbot", "/src", "/data", "/config")
UID = GID = 10001  # the Dockerfile's; checked against its RUN line below
STOP_GRACE_S = 10.0  # docker stop's default


class ReplayError(RuntimeError):
    """One step of the replay failed; the message says which and why."""


@dataclass
class Stage:
    base: str
    name: str | None
    steps: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, arguments)

    def args(self, instruction: str) -> list[str]:
        return [a for i, a in self.steps if i == instruction]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """(global ARG defaults, stages) of a Dockerfile: continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        instruction, _, rest = line.partition(" ")
        instruction, rest = instruction.upper(), rest.strip()
        if instruction == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif instruction == "FROM":
            image, _, alias = rest.partition(" AS ")
            stages.append(Stage(base=image.strip(), name=alias.strip() or None))
        elif stages:
            stages[-1].steps.append((instruction, rest))
    return args, stages


def env_of(stage: Stage) -> dict[str, str]:
    """The stage's ENV (KEY=VALUE pairs, several per line)."""
    out: dict[str, str] = {}
    for line in stage.args("ENV"):
        for pair in shlex.split(line):
            key, _, value = pair.partition("=")
            out[key] = value
    return out


def exec_form(args: str) -> list[str]:
    """A JSON-array (exec form) CMD / ENTRYPOINT."""
    value = json.loads(args)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ReplayError(f"expected an exec-form JSON array, got {args!r}")
    return value


class Image:
    """Paths of the image mapped under a scratch root."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, image_path: str) -> Path:
        return self.root / image_path.lstrip("/")

    def map(self, text: str) -> str:
        for d in IMAGE_DIRS:
            text = re.sub(rf"(?<![\w/]){re.escape(d)}(?=[/\s:'\"]|$)", str(self.path(d)), text)
        return text


def _run(cmd: list[str], what: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ReplayError(f"{what} exited {done.returncode}: {' | '.join(tail)}")
    return done


def build(stage: Stage, image: Image) -> float:
    """The build stage: its COPYs from this checkout, then its RUN lines. Seconds taken."""
    workdir = image.path(stage.args("WORKDIR")[-1])
    workdir.mkdir(parents=True)
    for line in stage.args("COPY"):
        *sources, dest = shlex.split(line)
        target = workdir / dest if not dest.startswith("/") else image.path(dest)
        for src in sources:
            origin = ROOT / src
            if not origin.exists():
                raise ReplayError(f"COPY {src}: no such file in the build context")
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target / origin.name)
    env = {**os.environ, **env_of(stage)}
    # `python` of the base image: this machine's Python 3.11 stands in for it
    shim = image.root / "base-bin"
    shim.mkdir()
    (shim / "python").symlink_to(sys._base_executable)  # type: ignore[attr-defined]
    env["PATH"] = f"{shim}:{env['PATH']}"
    env.pop("VIRTUAL_ENV", None)
    started = time.monotonic()
    for line in stage.args("RUN"):
        _run(["sh", "-c", image.map(line)], f"RUN {line[:60]}…", cwd=workdir, env=env)
    return time.monotonic() - started


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_image_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd  # not root: run as ourselves (still not root, as in the image)
    return ["setpriv", f"--reuid={UID}", f"--regid={GID}", "--clear-groups", *cmd]


def start_emulator(image: Image) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """`guardbot sim` from the image's venv (the emulator ships in the package)."""
    sim = subprocess.Popen(
        [str(image.path("/opt/guardbot/bin/guardbot")), "sim", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: dict[str, str] = {}
    assert sim.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(seen) < 3:
        line = sim.stdout.readline()
        if not line:
            break
        if m := re.search(r"emulator at (http://127\.0\.0\.1:\d+)", line):
            seen["base_url"] = m.group(1)
        elif m := re.match(r"api key: (\w+)", line):
            seen["key"] = m.group(1)
        elif m := re.match(r"secret:\s+(\w+)", line):
            seen["secret"] = m.group(1)
    if len(seen) < 3:
        sim.kill()
        raise ReplayError(f"guardbot sim did not print its address and keys (saw {sorted(seen)})")
    return sim, seen


def prepare_final(stage: Stage, image: Image, sim: dict[str, str]) -> dict[str, str]:
    """The final stage's user, /data and a read-only /config; the container's environment."""
    run_lines = " ".join(stage.args("RUN"))
    if f"--uid {UID}" not in run_lines or "chown guardbot:guardbot /data" not in run_lines:
        raise ReplayError(f"the final stage no longer creates uid {UID} owning /data: update this replay")
    if stage.args("USER") != ["guardbot"]:
        raise ReplayError(f"the final stage runs as {stage.args('USER')}, expected the user guardbot")
    data, config = image.path("/data"), image.path("/config")
    data.mkdir()
    config.mkdir()
    secrets = image.path("/run/secrets")
    secrets.mkdir(parents=True)
    (secrets / "sim_secret").write_text(sim["secret"] + "\n")
    toml = config / "guardbot.toml"
    toml.write_text(
        "[[accounts]]\n"
        'name = "sim"\nexchange = "binanceusdm"\n'
        f'base_url = "{sim["base_url"]}"\n'
        'dry_run = false\napi_key_env = "SIM_API_KEY"\napi_secret_env = "SIM_API_SECRET"\n'
        "[schedule]\ninterval_s = 2\n"
    )
    if os.geteuid() == 0:
        os.chown(data, UID, GID)
        os.chmod(secrets / "sim_secret", 0o444)
    toml.chmod(0o444)
    config.chmod(0o555)  # mounted :ro
    env = {k: image.map(v) for k, v in env_of(stage).items()}
    env["PATH"] = image.map(env["PATH"].replace("$PATH", "/usr/bin:/bin"))
    env["GUARDBOT_METRICS__PORT"] = str(_free_port())  # the host's 9464 may be taken
    env.update(HOME=str(data), SIM_API_KEY=sim["key"], SIM_API_SECRET_FILE=str(secrets / "sim_secret"))
    return env


def healthy(stage: Stage, env: dict[str, str], cwd: Path, within_s: float) -> float:
    """Run the HEALTHCHECK command until it passes; seconds it took."""
    [line] = stage.args("HEALTHCHECK")
    cmd = exec_form(line[line.index("CMD") + 3 :].strip())
    started = time.monotonic()
    last = ""
    while time.monotonic() - started < within_s:
        done = subprocess.run(_as_image_user(cmd), env=env, cwd=cwd, capture_output=True, text=True)
        if done.returncode == 0:
            return time.monotonic() - started
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        time.sleep(0.5)
    raise ReplayError(f"HEALTHCHECK did not pass within {within_s:.0f} s: {last}")


def first_equity(url: str, within_s: float) -> float:
    """The account's equity on /metrics, once its first cycle has run."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        text = urllib.request.urlopen(url, timeout=5).read().decode()
        if m := re.search(r'^guardbot_equity\{account="sim"\} (\S+)$', text, re.M):
            return float(m.group(1))
        time.sleep(0.5)
    raise ReplayError(f"/metrics showed no guardbot_equity for the account within {within_s:.0f} s")


def replay(keep: bool) -> dict[str, object]:
    args, stages = parse_dockerfile((ROOT / "Dockerfile").read_text())
    if len(stages) != 2 or stages[0].name != "build":
        raise ReplayError("expected two stages, the first named build")
    scratch = Path(tempfile.mkdtemp(prefix="guardbot-image-"))
    scratch.chmod(0o755)  # the image's user must reach /opt and /data below it
    image = Image(scratch)
    sim_proc: subprocess.Popen[str] | None = None
    try:
        build_s = build(stages[0], image)
        venv = image.path("/opt/guardbot")
        size_mb = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file()) / 1e6
        sim_proc, sim = start_emulator(image)
        final = stages[1]
        env = prepare_final(final, image, sim)
        cwd = image.path(final.args("WORKDIR")[-1])
        entry = exec_form(final.args("ENTRYPOINT")[-1]) + exec_form(final.args("CMD")[-1])
        started = time.monotonic()
        daemon = subprocess.Popen(
            _as_image_user(entry),
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            healthy_s = healthy(final, env, cwd, within_s=60)
            port = env["GUARDBOT_METRICS__PORT"]
            equity = first_equity(f"http://127.0.0.1:{port}/metrics", within_s=30)
            status = _run(_as_image_user(["guardbot", "status"]), "guardbot status", env=env, cwd=cwd)
            if "sim" not in status.stdout:
                raise ReplayError(f"guardbot status does not show the account: {status.stdout[:200]!r}")
        finally:
            stop_at = time.monotonic()
            daemon.send_signal(signal.SIGTERM)
            try:
                out, _ = daemon.communicate(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                daemon.kill()
                raise ReplayError(
                    f"guardbot run did not stop within {STOP_GRACE_S:.0f} s of SIGTERM"
                ) from None
            stop_s = time.monotonic() - stop_at
        if daemon.returncode != 0:
            raise ReplayError(f"guardbot run exited {daemon.returncode}: {out.strip().splitlines()[-1:]}")
        journal = Path(env["GUARDBOT_STORAGE__PATH"])
        if not journal.exists():
            raise ReplayError(f"no journal at {journal}")
        owner = journal.stat().st_uid
        return {
            "base_image": stages[1].base.replace("${PYTHON_IMAGE}", args.get("PYTHON_IMAGE", "?")),
            "stand_in_python": sys.version.split()[0],
            "build_s": round(build_s, 1),
            "venv_mb": round(size_mb, 1),
            "ran_as_uid": owner,
            "healthy_after_s": round(healthy_s, 2),
            "equity_on_metrics": equity,
            "ran_s": round(stop_at - started, 2),
            "stopped_after_sigterm_s": round(stop_s, 2),
            "exit_code": daemon.returncode,
            "journal_bytes": journal.stat().st_size,
            "scratch": str(scratch) if keep else None,
        }
    finally:
        if sim_proc is not None:
            sim_proc.terminate()
            sim_proc.wait(timeout=10)
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the scratch root for a look")
    ns = parser.parse_args(argv)
    try:
        summary = replay(ns.keep)
    except ReplayError as exc:
        print(f"image replay: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
