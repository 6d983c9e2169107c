#!/usr/bin/env bash
# Open the course in one command: set up what the notebooks need (.venv with the package and JupyterLab, the emoji
# data set via npm; no test tools, no browser download, no root), then start JupyterLab on notebooks/.
# Extra arguments go to `jupyter lab`, e.g.  bash scripts/lab.sh --port 8890 --no-browser
# (as root, JupyterLab also wants --allow-root).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh --lab
exec .venv/bin/jupyter lab --ServerApp.root_dir=notebooks "$@"
