#!/usr/bin/env bash
# Quick start, second command: set up, then run the whole test suite: the unit tests, the notebooks under nbval
# with their exercises solved (solutions/fill.py writes those copies to build/notebooks/), and the browser test,
# which runs the notebooks as students get them, exercises unfilled. Extra arguments go to pytest, for example
#   bash scripts/test.sh -m "not slow"     the fast tier: in-process unit tests
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh --test
export VAE_TUTORIAL_EPOCHS="${VAE_TUTORIAL_EPOCHS:-2}"  # notebooks train briefly under test
rm -rf build/notebooks
.venv/bin/python solutions/fill.py notebooks/*.ipynb --output build/notebooks
exec .venv/bin/python -m pytest "$@"
