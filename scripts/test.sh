#!/usr/bin/env bash
# Quick start, second command: set up, then run the whole test suite
# (unit tests, the notebooks under nbval, the browser test). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh --test
export VAE_TUTORIAL_EPOCHS="${VAE_TUTORIAL_EPOCHS:-2}"  # notebooks train briefly under test
exec .venv/bin/python -m pytest "$@"
