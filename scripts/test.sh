#!/usr/bin/env bash
# Quick start, second command: set up, then run the whole test suite: the unit tests, the notebooks under nbval
# with their exercises solved (solutions/fill.py writes those copies to build/notebooks/; each notebook runs once
# per suite, there), and the browser test, which opens the committed notebooks in JupyterLab without running them
# and drives the explorer on a tiny model. Extra arguments go to pytest, for example
#   bash scripts/test.sh -m "not slow"     the fast tier: in-process unit tests
#   bash scripts/test.sh --oldest [...]    the same with the lowest versions pyproject.toml allows, in .venv-oldest
#                                          (scripts/setup-oldest.sh); without pytest arguments, the fast tier
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv=.venv
if [ "${1:-}" = "--oldest" ]; then
  shift
  venv=.venv-oldest
  bash scripts/setup-oldest.sh
  [ $# -eq 0 ] && set -- -m "not slow"
else
  bash scripts/setup.sh --test
fi
export VAE_TUTORIAL_EPOCHS="${VAE_TUTORIAL_EPOCHS:-2}"  # notebooks train briefly under test
rm -rf build/notebooks
"$venv/bin/python" solutions/fill.py notebooks/*.ipynb --output build/notebooks
exec "$venv/bin/python" -m pytest "$@"
