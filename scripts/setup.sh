#!/usr/bin/env bash
# Set-up shared by the Quick start commands and the course. Idempotent: a second run only checks.
#   bash scripts/setup.sh          virtual environment .venv, the package, the emoji data set
#   bash scripts/setup.sh --lab    the same plus JupyterLab for the notebooks (no root needed; scripts/lab.sh)
#   bash scripts/setup.sh --test   the same plus the test tools and Chromium for the browser test
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python=${PYTHON:-python3}
case "${1:-}" in
  "") extras="" ;;
  --lab) extras="[notebooks]" ;;
  --test) extras="[test]" ;;
  *) echo "setup: unknown option ${1}; use --lab, --test or nothing" >&2; exit 2 ;;
esac

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating the virtual environment .venv"
  "$python" -m venv .venv
fi
stamp=".venv/.vae-tutorial-installed${extras}"
want="$(cat pyproject.toml package-lock.json | sha256sum | cut -c1-16)"
# The test tools include everything the notebooks need: after --test, --lab has nothing to install.
if [ "$extras" = "[notebooks]" ] && [ "$(cat ".venv/.vae-tutorial-installed[test]" 2>/dev/null)" = "$want" ]; then
  stamp=".venv/.vae-tutorial-installed[test]"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing vae-tutorial${extras} and its dependencies into .venv (about a minute)"
  log=.venv/pip-install.log
  if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip &&
         .venv/bin/python -m pip install --disable-pip-version-check -e ".${extras}"; } > "$log" 2>&1; then
    tail -n 30 "$log"
    echo "setup: pip install failed; the full log is in $log" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi

if ! grep -qs '"version": "16.0.0"' node_modules/emoji-datasource-google/package.json; then
  echo "setup: installing the emoji data set (npm package emoji-datasource-google 16.0.0)"
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ "$extras" = "[test]" ] && [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing Chromium for the browser test (apt-get)"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium > /dev/null
fi
