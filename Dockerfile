# evalbot as a GitHub container action. `uses: ./` and development builds use this file
# (action.yml: image: Dockerfile); releases run a prebuilt multi-arch image from GHCR, built from
# this same file by .github/workflows/release.yml (see RELEASING.md).
# The runner mounts the workspace at /github/workspace and runs this as root: no USER, no WORKDIR.

# The official slim image, pinned by the digest of its multi-arch index. Another base (a mirror,
# or a stand-in from scripts/standin_base_image.sh) is given with --build-arg BASE_IMAGE=...
ARG BASE_IMAGE=python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1

# Build stage: a virtualenv holding evalbot and its locked dependencies (wheels, so no compiler),
# without the test suites that scipy and numpy ship, without the files only a compiler or a type
# checker reads (C headers and sources, Cython .pxd/.pyx, .pyi stubs), and with the extension
# modules stripped of symbols (not the bundled *.libs: auditwheel-patched libraries break when
# stripped). Only /opt/evalbot leaves this stage: no pip cache, no binutils, no build frontend.
FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends binutils \
    && rm -rf /var/lib/apt/lists/*
# Runtime dependencies are pinned by requirements.lock (scripts/lock_requirements.py); they are
# installed and trimmed in a layer of their own, so a change to evalbot's sources rebuilds only
# the small layer after it. Bytecode is compiled last, once: without it every start compiles
# scipy, openai and PyGithub again.
COPY requirements.lock /tmp/evalbot/
RUN python -m venv --without-pip /opt/evalbot \
    && pip --python /opt/evalbot/bin/python install --no-cache-dir --no-compile \
        -r /tmp/evalbot/requirements.lock \
    && find /opt/evalbot/lib -depth -type d -path '*/site-packages/*' -name tests -exec rm -rf {} + \
    && find /opt/evalbot/lib -type f -path '*/site-packages/*' \( -name '*.pxd' -o -name '*.pyx' \
        -o -name '*.pyi' -o -name '*.h' -o -name '*.hpp' -o -name '*.c' -o -name '*.cpp' \) -delete \
    && find /opt/evalbot/lib -path '*.libs' -prune -o -type f -name '*.so' \
        -exec strip --strip-unneeded {} +
COPY pyproject.toml README.md /tmp/evalbot/
COPY src /tmp/evalbot/src
COPY prompts /tmp/evalbot/prompts
RUN pip --python /opt/evalbot/bin/python install --no-cache-dir --no-compile --no-deps \
        -c /tmp/evalbot/requirements.lock /tmp/evalbot \
    && pip --python /opt/evalbot/bin/python check \
    && /opt/evalbot/bin/python -c "import evalbot.cli, evalbot.github.action, evalbot.score, \
        evalbot.pipeline.suite, evalbot.run.openai_provider, evalbot.run.python_provider, \
        evalbot.run.exec_provider, scipy.stats, scipy.optimize; evalbot.score.metric_specs()" \
    && find /opt/evalbot/lib -type d -name __pycache__ -exec rm -rf {} + \
    && /opt/evalbot/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash \
        /opt/evalbot/lib

# Runtime stage: the base, git, and the virtualenv.
FROM ${BASE_IMAGE}
# No pydantic plugin is installed in this image: without the variable, pydantic would read the
# entry points of every installed package to look for one at each start (~0.02 s of CPU).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYDANTIC_DISABLE_PLUGINS=__all__ \
    PATH=/opt/evalbot/bin:$PATH

# git reads the base and head sides; the workspace is owned by the runner's user, not root
# ("detected dubious ownership"), so every directory is marked safe for the system config.
# Debian's git depends on perl only for commands evalbot never runs (svn, send-email, cvs,
# instaweb, ...): the full perl (47 MB) is removed again; perl-base stays. Nothing installs
# packages into this image afterwards, so the unmet dependency is never seen by apt. Each of
# git's server programs and dumb-protocol clients is a 2 MB static binary evalbot never runs
# (it reads objects and fetches over smart HTTPS: git-remote-https stays), and so are the perl
# modules left without perl. git-core holds a second copy of the git binary: a link does.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && dpkg --purge --force-depends perl perl-modules-5.36 libperl5.36 liberror-perl \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* \
    && for program in git-daemon git-http-backend git-http-fetch git-http-push git-imap-send \
        git-shell scalar; do rm -f "/usr/lib/git-core/$program" "/usr/bin/$program"; done \
    && rm -rf /usr/share/perl5/Git /usr/share/perl5/Git.pm /usr/share/gitweb \
    && if cmp -s /usr/bin/git /usr/lib/git-core/git; then \
        ln -sf /usr/bin/git /usr/lib/git-core/git; fi \
    && git config --system --add safe.directory '*' \
    && git --version

COPY --from=build /opt/evalbot /opt/evalbot

ENTRYPOINT ["/opt/evalbot/bin/evalbot", "action"]
