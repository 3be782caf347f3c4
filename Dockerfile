# evalbot as a GitHub container action (action.yml: runs.using docker, image Dockerfile).
# The runner mounts the workspace at /github/workspace and runs this as root: no USER, no WORKDIR.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# git reads the base and head sides; the workspace is owned by the runner's user, not root
# ("detected dubious ownership"), so every directory is marked safe for the system config.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory '*'

# Runtime dependencies are pinned by requirements.lock (scripts/lock_requirements.py).
COPY requirements.lock pyproject.toml README.md /tmp/evalbot/
COPY src /tmp/evalbot/src
COPY prompts /tmp/evalbot/prompts
RUN pip install --no-cache-dir -c /tmp/evalbot/requirements.lock /tmp/evalbot \
    && pip check \
    && rm -rf /tmp/evalbot

ENTRYPOINT ["evalbot", "action"]
