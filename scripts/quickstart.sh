#!/usr/bin/env bash
# Quick start, first command: set up, then train the VAE with the defaults on the emoji data set.
# Outputs go to runs/emoji/. Extra arguments go to `vae-tutorial train` (e.g. --epochs 5).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/vae-tutorial train "$@"
