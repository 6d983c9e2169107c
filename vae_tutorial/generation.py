"""Using a trained VAE: generation, reconstruction and interpolation.

Generation and reconstruction are different things, and every figure says which:

- **generation** decodes samples z ~ N(0, I) from the *prior*: new images that no input
  produced;
- **reconstruction** encodes an existing image and decodes its code: a copy through the
  bottleneck. We decode the posterior mean ``mu`` so the result is deterministic.
"""

from __future__ import annotations

import numpy as np

from vae_tutorial.data import visualize_batch
from vae_tutorial.training import fixed_latents

GENERATED_TITLE = "Generated: decoded from random z ~ N(0, I)"
RECONSTRUCTED_TITLE = "Reconstructions: originals (top) decoded from their encodings (below)"


def _decoder(model_or_decoder):
    return getattr(model_or_decoder, "decoder", model_or_decoder)


def generate(model_or_decoder, n: int = 16, seed: int = 0, temperature: float = 1.0) -> np.ndarray:
    """``n`` new images (n, 64, 64, 3) decoded from z ~ N(0, temperature² I)."""
    if n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    decoder = _decoder(model_or_decoder)
    latent_dim = decoder.input_shape[-1]
    return np.asarray(decoder.predict(fixed_latents(n, latent_dim, seed, temperature), verbose=0))


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


def interpolate(model, image_a, image_b, steps: int = 8) -> np.ndarray:
    """Decode ``steps`` points on the straight line between the encodings of two images."""
    mu, _ = encode(model, np.stack([image_a, image_b]))
    t = np.linspace(0.0, 1.0, steps, dtype="float32")[:, None]
    return np.asarray(model.decoder.predict((1 - t) * mu[0] + t * mu[1], verbose=0))


def plot_generated(images, title: str = GENERATED_TITLE, ncols: int = 8):
    """A labelled grid of generated images."""
    return visualize_batch(images, ncols=ncols, title=title)


def plot_reconstructions(originals, reconstructions, title: str = RECONSTRUCTED_TITLE, ncols: int = 8):
    """Originals above their reconstructions, in labelled row pairs."""
    originals = np.asarray(originals)
    reconstructions = np.asarray(reconstructions)
    rows, labels = [], []
    for start in range(0, len(originals), ncols):
        chunk = slice(start, start + ncols)
        pad = ncols - len(originals[chunk])
        for block, label in ((originals[chunk], "Original"), (reconstructions[chunk], "Reconstruction")):
            rows.append(np.concatenate([block, np.ones((pad, *block.shape[1:]), block.dtype)]) if pad else block)
            labels.append(label)
    return visualize_batch(np.concatenate(rows), ncols=ncols, title=title, row_labels=labels)
