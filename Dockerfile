# guardbot daemon image (docs/operations.md). Two stages: the first builds a venv with the exact
# versions of constraints.txt, the second copies only that venv onto a clean slim image, so no
# compiler, pip cache or source checkout ships. Runs as an unprivileged user; the journal lives in
# the /data volume, the config is mounted read-only at /config/guardbot.toml, secrets come from
# the environment (NAME, or NAME_FILE naming a mounted secret file).
# Not built by CI here (the CI machine has no Docker daemon): tests/unit/test_deploy.py checks this
# file against the README and the compose file, not a built image.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY constraints.txt pyproject.toml README.md ./
COPY guardbot ./guardbot
COPY strategies ./strategies
# --constraint: every dependency, direct or not, at the version constraints.txt names
RUN python -m venv /opt/guardbot \
    && /opt/guardbot/bin/pip install --constraint constraints.txt .

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/guardbot/bin:$PATH
# a fixed uid/gid, so a bind-mounted /data can be chowned to it on the host (chown 10001:10001)
RUN groupadd --gid 10001 guardbot \
    && useradd --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin guardbot \
    && mkdir -p /data /config \
    && chown guardbot:guardbot /data
COPY --from=build /opt/guardbot /opt/guardbot
USER guardbot
WORKDIR /data
VOLUME ["/data"]
# metrics on every interface *inside* the container, so a published port reaches them; publish it on
# the host's loopback only (docker-compose.yml does: 127.0.0.1:9464:9464)
ENV GUARDBOT_CONFIG=/config/guardbot.toml \
    GUARDBOT_STORAGE__PATH=/data/guardbot.db \
    GUARDBOT_METRICS__ENABLED=true \
    GUARDBOT_METRICS__HOST=0.0.0.0 \
    GUARDBOT_METRICS__PORT=9464
EXPOSE 9464
# slim has no curl: the image's own Python asks /healthz (503, or no answer, exits non-zero)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('GUARDBOT_METRICS__PORT', '9464') + '/healthz', timeout=4)"]
ENTRYPOINT ["guardbot"]
CMD ["run"]
