# guardbot daemon image. Secrets come from the environment (docker run -e / --env-file),
# the config from a mounted file, the journal from a volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY guardbot ./guardbot
COPY strategies ./strategies
RUN pip install . && useradd --create-home --uid 10001 guardbot
USER guardbot
WORKDIR /data
VOLUME ["/data"]
ENV GUARDBOT_CONFIG=/config/guardbot.toml GUARDBOT_STORAGE__PATH=/data/guardbot.db
ENTRYPOINT ["guardbot"]
CMD ["run"]
