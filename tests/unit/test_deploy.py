"""The Docker image, the compose file, Prometheus' config and the Grafana dashboard, checked
against each other and against the README (this machine has no Docker daemon: nothing here
builds an image; docs/operations.md says so).

What a user relies on: the image runs `guardbot run` as a non-root user, keeps the journal in the
/data volume it owns, reads the config where the README mounts it, serves metrics on the port the
compose file publishes (on loopback only), its HEALTHCHECK really fails on a 503, every file it
COPYs exists, and it installs the exact versions constraints.txt pins for every runtime dependency.
"""

from __future__ import annotations

import asyncio
import fnmatch
import importlib.util
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from guardbot.config import load_settings
from guardbot.ops.metrics import METRICS
from guardbot.ops.server import serve

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _replay_module() -> ModuleType:
    """deploy/replay_image.py: its Dockerfile parser is the one these tests read the image with."""
    spec = importlib.util.spec_from_file_location("replay_image", ROOT / "deploy" / "replay_image.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


REPLAY = _replay_module()
ARGS, STAGES = REPLAY.parse_dockerfile((ROOT / "Dockerfile").read_text(encoding="utf-8"))


def final(word: str) -> list[str]:
    return list(STAGES[-1].args(word))


def env_of_image() -> dict[str, str]:
    return dict(REPLAY.env_of(STAGES[-1]))


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_the_image_is_multi_stage_and_copies_only_files_that_exist() -> None:
    assert len(STAGES) == 2 and STAGES[0].name == "build"
    ins = [(word, rest) for stage in STAGES for word, rest in stage.steps]
    for word, rest in ins:
        if word != "COPY" or "--from=" in rest:
            continue
        *sources, _dest = shlex.split(rest)
        for src in sources:
            assert (ROOT / src).exists(), f"the Dockerfile copies {src}, which is not in the repository"
    # and .dockerignore keeps none of them out of the build context
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = [rest for w, rest in ins if w == "COPY" and "--from=" not in rest]
    copied = [src for rest in copies for src in shlex.split(rest)[:-1]]
    assert [(src, pat) for src in copied for pat in ignored if fnmatch.fnmatch(src, pat)] == []
    assert ".venv" in ignored and ".git" in ignored
    # the runtime stage takes the built venv, not the sources
    assert final("COPY") == ["--from=build /opt/guardbot /opt/guardbot"]


def test_the_image_runs_guardbot_as_a_non_root_user_owning_the_data_volume() -> None:
    [user] = final("USER")
    assert user not in ("root", "0") and not user.startswith("0:")
    assert json.loads(final("VOLUME")[0]) == ["/data"]
    assert any(f"chown {user}:{user} /data" in run for run in final("RUN"))
    assert json.loads(final("ENTRYPOINT")[0]) == ["guardbot"] and json.loads(final("CMD")[0]) == ["run"]
    env = env_of_image()
    assert env["GUARDBOT_STORAGE__PATH"].startswith("/data/")  # the journal is in the volume
    readme = " ".join(README.split())
    assert f"runs `guardbot run` as the unprivileged user `{user}`" in readme
    assert "-v guardbot-data:/data" in readme and "keeps the journal in the `/data` volume" in readme


def test_the_images_settings_are_real_settings_and_match_the_readme() -> None:
    env = env_of_image()
    config = env.pop("GUARDBOT_CONFIG")
    # the README and compose mount the config there, read-only
    assert f":{config}:ro" in README
    assert f"./guardbot.toml:{config}:ro" in compose()["services"]["guardbot"]["volumes"]
    assert "guardbot-data:/data" in compose()["services"]["guardbot"]["volumes"]
    settings = load_settings(ROOT / "config.example.toml", env)
    assert settings.metrics.enabled and settings.metrics.host == "0.0.0.0"
    port = settings.metrics.port
    assert final("EXPOSE") == [str(port)]
    # published on the host's loopback only, in the README and in compose
    assert f"-p 127.0.0.1:{port}:{port}" in README
    assert compose()["services"]["guardbot"]["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert f"metrics on port {port}" in " ".join(README.split())


def test_the_image_installs_the_pinned_versions_of_every_runtime_dependency() -> None:
    build = STAGES[0].args("RUN")
    assert any("--constraint constraints.txt" in run for run in build)
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin (name==version)"
            pins[canonicalize_name(name)] = version
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    for raw in deps:
        req = Requirement(raw)
        name = canonicalize_name(req.name)
        assert name in pins, f"constraints.txt does not pin {req.name}: regenerate it (docs/operations.md)"
        assert req.specifier.contains(pins[name], prereleases=True), (raw, pins[name])


async def test_the_healthcheck_passes_on_200_and_fails_on_503() -> None:
    [check] = final("HEALTHCHECK")
    cmd = json.loads(check[check.index("CMD") + 3 :].strip())
    assert "`HEALTHCHECK` on `/healthz`" in README
    assert cmd[:2] == ["python", "-c"] and "/healthz" in cmd[2]
    verdict = [200, "ok"]
    async with serve("127.0.0.1", 0, lambda: b"", lambda: (int(verdict[0]), str(verdict[1]))) as (_, port):

        def run_check() -> int:
            env = {"GUARDBOT_METRICS__PORT": str(port), "PATH": "/usr/bin:/bin"}
            return subprocess.run([sys.executable, "-c", cmd[2]], env=env, capture_output=True).returncode

        assert await asyncio.to_thread(run_check) == 0
        verdict[:] = [503, "stale: alpha last good snapshot 75s ago (max 60s)"]
        assert await asyncio.to_thread(run_check) != 0


def test_compose_passes_only_variables_the_config_names_and_prometheus_is_optional() -> None:
    services = compose()["services"]
    example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    named = set(re.findall(r'_env\s*=\s*"([A-Z0-9_]+)"', example)) | {"GUARDBOT_TELEGRAM_TOKEN"}
    passed = set(services["guardbot"]["environment"])
    assert passed <= named
    [docker_run] = [b for b in re.findall(r"```sh\n(.*?)```", README, re.DOTALL) if "docker run" in b]
    assert set(re.findall(r"-e\s+([A-Z][A-Z0-9_]*)\b", docker_run)) == passed
    assert "profiles" not in services["guardbot"]
    assert services["prometheus"]["profiles"] == ["monitoring"]
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in services["prometheus"]["volumes"]
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text(encoding="utf-8"))
    [job] = scrape["scrape_configs"]
    port = load_settings(ROOT / "config.example.toml", env_of_image()).metrics.port
    assert job["static_configs"][0]["targets"] == [f"guardbot:{port}"]  # the compose service


def test_every_metric_the_grafana_dashboard_queries_is_one_guardbot_exports() -> None:
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    queried = {m for e in exprs for m in re.findall(r"\bguardbot_[a-z_]+", e)}
    variables = json.dumps(dashboard["templating"])
    queried |= set(re.findall(r"\bguardbot_[a-z_]+", variables))
    histograms = {n for n in METRICS if n.endswith("_seconds") and "duration" in n}
    names = set(METRICS) | {f"{h}_bucket" for h in histograms} | {f"{h}_count" for h in histograms}
    assert queried and queried <= names, sorted(queried - names)
    # and each documented metric has a panel
    assert {q.removesuffix("_bucket") for q in queried} == set(METRICS)


def test_every_metric_is_explained_in_the_operations_guide() -> None:
    guide = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `(guardbot_[a-z_]+)`", guide, re.MULTILINE))
    assert rows == set(METRICS)


def test_the_replay_runs_every_image_path_under_its_scratch_root(tmp_path: Path) -> None:
    # `make image-replay` runs the Dockerfile's RUN lines and ENV on this machine: a path of the
    # image it failed to map would be written on the host itself (a new /app, say).
    image = REPLAY.Image(tmp_path)
    texts = STAGES[0].args("RUN") + STAGES[0].args("WORKDIR") + list(env_of_image().values())
    texts += final("WORKDIR") + final("VOLUME")
    for text in texts:
        mapped = image.map(text)
        for path in re.findall(r"(?<![\w/.:$])/[\w./-]+", mapped):
            assert path.startswith(str(tmp_path)), f"{text!r}: {path} is not mapped under the scratch root"
    # the user it runs as, and the home of its journal, are the image's
    assert REPLAY.UID == 10001 and "--uid 10001" in " ".join(final("RUN"))
    assert image.map(env_of_image()["GUARDBOT_STORAGE__PATH"]) == str(tmp_path / "data" / "guardbot.db")
