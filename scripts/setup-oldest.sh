#!/usr/bin/env bash
# Set-up for the oldest run (bash scripts/test.sh --oldest): the virtual environment .venv-oldest
# with exactly the lowest versions pyproject.toml allows (scripts/floors.py lists them), the package
# with its test tools, and the emoji data set. Idempotent: a second run only checks; after
# pyproject.toml changes, .venv-oldest is built afresh, so nothing newer than a floor stays in it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python=${PYTHON:-python3}
venv=.venv-oldest
stamp="$venv/.vae-tutorial-floors"
want="$(cat pyproject.toml scripts/floors.py | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating $venv with the lowest versions pyproject.toml allows (a few minutes)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  log="$venv/pip-install.log"
  if ! { "$venv/bin/python" scripts/floors.py > "$venv/floors.txt" &&
         "$venv/bin/python" -m pip install --disable-pip-version-check --upgrade pip &&
         "$venv/bin/python" -m pip install --disable-pip-version-check -c "$venv/floors.txt" -e ".[test]"; } > "$log" 2>&1; then
    tail -n 30 "$log"
    echo "setup: pip install failed; the full log is in $log" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
echo "setup: $venv has $("$venv/bin/python" --version) and the versions in $venv/floors.txt"

# The emoji data set, as scripts/setup.sh installs it.
if ! grep -qs '"version": "16.0.0"' node_modules/emoji-datasource-google/package.json; then
  echo "setup: installing the emoji data set (npm package emoji-datasource-google 16.0.0)"
  npm ci --no-audit --no-fund --loglevel=error
fi
