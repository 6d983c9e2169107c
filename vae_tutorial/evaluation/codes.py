"""Images to codes and back: the encoder's posterior for each image, and its reconstruction.

A *reconstruction* encodes an existing image and decodes its code, a copy through the bottleneck;
it is not a generated image (decoded from a code sampled from the prior, see
:mod:`vae_tutorial.generation`). We decode the posterior mean ``mu`` so the result is deterministic.
"""

from __future__ import annotations

import numpy as np


def encode(model, images, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """``(mu, log_var)`` of the encoder for ``images``, as NumPy arrays."""
    mu, log_var = [], []
    for start in range(0, len(images), batch_size):
        m, lv = model.encode(np.asarray(images[start:start + batch_size], "float32"))
        mu.append(np.asarray(m))
        log_var.append(np.asarray(lv))
    return np.concatenate(mu), np.concatenate(log_var)


def reconstruct(model, images) -> np.ndarray:
    """Encode ``images`` and decode the posterior means: (n, 64, 64, 3)."""
    mu, _ = encode(model, images)
    return np.asarray(model.decoder.predict(mu, verbose=0))
