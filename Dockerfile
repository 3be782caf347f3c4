# evalbot as a GitHub container action. `uses: ./` and development builds use this file
# (action.yml: image: Dockerfile); releases run a prebuilt multi-arch image from GHCR, built from
# this same file by .github/workflows/release.yml (see RELEASING.md).
# The runner mounts the workspace at /github/workspace and runs this as root: no USER, no WORKDIR.

# The official slim image, pinned by the digest of its multi-arch index. Another base (a mirror,
# or a stand-in from scripts/standin_base_image.sh) is given with --build-arg BASE_IMAGE=...
ARG BASE_IMAGE=python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1

# Build stage: a virtualenv holding evalbot and its locked dependencies (wheels, so no compiler),
# without the test suites that scipy and numpy ship and with their extension modules stripped of
# symbols (not the bundled *.libs: auditwheel-patched libraries break when stripped). Only
# /opt/evalbot leaves this stage: no pip cache, no binutils, no build frontend, no sources.
FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends binutils \
    && rm -rf /var/lib/apt/lists/*
# Runtime dependencies are pinned by requirements.lock (scripts/lock_requirements.py). Bytecode
# is compiled last, once: without it every start compiles scipy, openai and PyGithub again.
COPY requirements.lock pyproject.toml README.md /tmp/evalbot/
COPY src /tmp/evalbot/src
COPY prompts /tmp/evalbot/prompts
RUN python -m venv --without-pip /opt/evalbot \
    && pip --python /opt/evalbot/bin/python install --no-cache-dir --no-compile \
        -c /tmp/evalbot/requirements.lock /tmp/evalbot \
    && pip --python /opt/evalbot/bin/python check \
    && find /opt/evalbot/lib -depth -type d -path '*/site-packages/*' -name tests -exec rm -rf {} + \
    && find /opt/evalbot/lib -path '*.libs' -prune -o -type f -name '*.so' \
        -exec strip --strip-unneeded {} + \
    && /opt/evalbot/bin/python -c "import evalbot.cli, scipy.stats, scipy.optimize, numpy" \
    && find /opt/evalbot/lib -type d -name __pycache__ -exec rm -rf {} + \
    && /opt/evalbot/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/evalbot/lib

# Runtime stage: the base, git, and the virtualenv.
FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/evalbot/bin:$PATH

# git reads the base and head sides; the workspace is owned by the runner's user, not root
# ("detected dubious ownership"), so every directory is marked safe for the system config.
# Debian's git depends on perl only for commands evalbot never runs (svn, send-email, cvs,
# instaweb, ...): the full perl (47 MB) is removed again; perl-base stays. Nothing installs
# packages into this image afterwards, so the unmet dependency is never seen by apt.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && dpkg --purge --force-depends perl perl-modules-5.36 libperl5.36 liberror-perl \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory '*'

COPY --from=build /opt/evalbot /opt/evalbot

ENTRYPOINT ["/opt/evalbot/bin/evalbot", "action"]
