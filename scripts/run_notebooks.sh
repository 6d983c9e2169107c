#!/usr/bin/env bash
# Execute the seven notebooks in place, writing the outputs that are committed with them.
#   bash scripts/run_notebooks.sh          each notebook's own number of epochs, its epochs_from_env(N): the course
#                                          settings, which the committed outputs come from
#   VAE_TUTORIAL_EPOCHS=2 bash scripts/run_notebooks.sh   a quick run
#   bash scripts/run_notebooks.sh notebooks/04_vae_model_and_loss.ipynb   only the notebooks named
# Notebook 6 loads runs/emoji/model.keras when it exists (the quick start writes it) and otherwise
# trains its own model; the committed outputs say which. Needs bash scripts/setup.sh --test first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python=${PYTHON:-.venv/bin/python}
[ -z "${VAE_TUTORIAL_EPOCHS:-}" ] || export VAE_TUTORIAL_EPOCHS
[ $# -gt 0 ] || set -- notebooks/0[1-7]_*.ipynb
for notebook in "$@"; do
  echo "run_notebooks: executing $notebook with VAE_TUTORIAL_EPOCHS=${VAE_TUTORIAL_EPOCHS:-unset (each notebook its own)}"
  start=$SECONDS
  "$python" -m jupyter nbconvert --to notebook --execute --inplace \
    --ExecutePreprocessor.timeout=3600 --ExecutePreprocessor.kernel_name=python3 "$notebook"
  echo "run_notebooks: $notebook took $((SECONDS - start)) s"
done
