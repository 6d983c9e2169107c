"""Diagrams for the notebooks, drawn with matplotlib from the models themselves.

- :func:`plot_architecture`: the VAE as it is built, encoder → (mu, log_var) → sampling → z → decoder, one box per
  Keras layer with its output shape, read from the encoder and decoder models you pass in (so the picture cannot
  drift from the code).
- :func:`plot_reparameterisation`: the computation graph of a sample z of N(μ, σ²) without and with the
  reparameterisation trick, and which of its edges carry gradients back to μ and log σ².

Both return a ``matplotlib.figure.Figure`` (not pyplot: nothing to close); a notebook displays it when it is the
last value of a cell.
"""

from __future__ import annotations

import numpy as np

from vae_tutorial.plots.curves import _figure


def plot_transposed_convolution(inputs, outputs):
    """A small input grid and the output of a transposed convolution, each cell labelled with its value."""
    fig, axes = _figure(8, 4, ncols=2)
    for ax, grid, name in zip(axes, (np.asarray(inputs), np.asarray(outputs)), ("input", "output")):
        ax.imshow(grid, cmap="Blues", vmin=0, vmax=max(float(np.max(grid)), 1e-9) * 1.3)
        for (i, j), value in np.ndenumerate(grid):
            ax.text(j, i, f"{value:g}", ha="center", va="center", fontsize=9)
        ax.set_title(f"{name} {grid.shape[0]}×{grid.shape[1]}")
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


ENCODER_COLOUR = "#dbe9f6"


DECODER_COLOUR = "#fde4cc"


SAMPLING_COLOUR = "#dcf0dc"


NOISE_COLOUR = "#eeeeee"


GRADIENT_COLOUR = "tab:red"


def describe_layer(layer) -> str:
    """One line naming what a Keras layer computes, e.g. ``Conv2D 32, 3×3, stride 2, ReLU``."""
    kind = type(layer).__name__
    if kind == "InputLayer":
        return "input"
    if kind == "Activation":
        return layer.activation.__name__
    text = kind
    if hasattr(layer, "filters"):
        (k, _), (s, _) = layer.kernel_size, layer.strides
        text += f" {layer.filters}, {k}×{k}, stride {s}"
    elif hasattr(layer, "units"):
        text += f" {layer.units}"
    activation = getattr(layer, "activation", None)
    if activation is not None and activation.__name__ != "linear":
        text += ", " + {"relu": "ReLU"}.get(activation.__name__, activation.__name__)
    return text


def output_shape(layer) -> str:
    """The shape of one example at a layer's output, without the batch axis: ``(32, 32, 32)``."""
    shape = tuple(layer.output.shape)[1:]
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _box(ax, x, y, width, height, title, shape, colour, dashed=False):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.02,rounding_size=0.12", facecolor=colour,
                                edgecolor="0.3", linestyle="--" if dashed else "-", linewidth=1.0))
    if shape:
        ax.text(x, y + 0.13, title, ha="center", va="center", fontsize=8.5)
        ax.text(x, y - 0.18, shape, ha="center", va="center", fontsize=8.5, family="monospace", color="0.25")
    else:
        ax.text(x, y, title, ha="center", va="center", fontsize=8.5)


def _arrow(ax, start, end, colour="0.2", style="-|>", linestyle="-", rad=0.0, width=1.1):
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12, color=colour,
                                 linestyle=linestyle, linewidth=width, shrinkA=0, shrinkB=0,
                                 connectionstyle=f"arc3,rad={rad}"))


def plot_architecture(encoder, decoder):
    """The VAE's architecture: every layer of ``encoder`` and ``decoder`` with its output shape.

    ``encoder`` is a functional Keras model images → ``[mu, log_var]`` (as :func:`vae_tutorial.encoder.build_encoder`
    builds it) and ``decoder`` one z → images (:func:`vae_tutorial.decoder.build_decoder`). The encoder runs down
    the left column, the sampling layer joins its two heads at the bottom with the noise ε, and the decoder runs up
    the right column to the reconstructed image. Returns a Figure.
    """
    from matplotlib.figure import Figure

    heads = [layer for layer in encoder.layers if any(layer.output is t for t in encoder.outputs)]
    if len(heads) != 2:
        raise ValueError(f"Argument `encoder` must have two outputs, mu and log_var. Received: {len(heads)} outputs")
    body = [layer for layer in encoder.layers if layer not in heads]
    rows = max(len(decoder.layers), len(body) + 1)
    top = rows - 1

    fig = Figure(figsize=(12, 0.72 * rows + 1.2))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.2, 14.2)
    ax.set_ylim(-0.75, top + 1.0)
    ax.axis("off")
    left, middle, right, width, height = 2.4, 7.0, 11.6, 4.4, 0.68

    ax.text(left, top + 0.62, r"Encoder $q_\phi(z \mid x)$", ha="center", fontsize=11, weight="bold")
    ax.text(right, top + 0.62, r"Decoder $p_\theta(x \mid z)$", ha="center", fontsize=11, weight="bold")
    ax.text(middle, top + 0.62, "shapes per image (batch axis left out)", ha="center", fontsize=9, color="0.35")

    # Encoder: its body spread down the left column, its two heads side by side at the bottom.
    ys = [top - i * (top - 1) / max(len(body) - 1, 1) for i in range(len(body))]
    for i, (layer, y) in enumerate(zip(body, ys)):
        title = "image x" if i == 0 else f"{layer.name}: {describe_layer(layer)}"
        _box(ax, left, y, width, height, title, output_shape(layer), ENCODER_COLOUR)
        if i:
            _arrow(ax, (left, ys[i - 1] - height / 2), (left, y + height / 2))
    head_xs = (left - width / 4 - 0.05, left + width / 4 + 0.05)
    names = {"mu": r"$\mu$", "log_var": r"$\log \sigma^2$"}
    for head, x in zip(heads, head_xs):
        title = f"{head.name} {names.get(head.name, '')}: {describe_layer(head)}"
        _box(ax, x, 0, width / 2 - 0.1, height, title, output_shape(head), ENCODER_COLOUR)
        _arrow(ax, (left, ys[-1] - height / 2), (x, height / 2))

    # Sampling: z = mu + sigma * eps, eps from N(0, I) above it.
    latent_shape = output_shape(heads[0])
    _box(ax, middle, 0, 3.9, height, "Sampling: z = μ + σ ⊙ ε, σ = exp(½ log σ²)", latent_shape, SAMPLING_COLOUR)
    _box(ax, middle, 1.3, 2.6, height, r"noise $\varepsilon \sim \mathcal{N}(0, I)$", latent_shape, NOISE_COLOUR,
         dashed=True)
    _arrow(ax, (middle, 1.3 - height / 2), (middle, height / 2))
    _arrow(ax, (head_xs[1] + width / 4 - 0.05, 0), (middle - 1.95, 0))

    # Decoder: from z at the bottom of the right column up to the image.
    for i, layer in enumerate(decoder.layers):
        description = describe_layer(layer)
        title = layer.name if description == layer.name else f"{layer.name}: {description}"
        if i == 0:
            title = "z"
        elif i == len(decoder.layers) - 1:
            title += r"  →  $\hat{x}$"
        _box(ax, right, i, width, height, title, output_shape(layer), DECODER_COLOUR)
        if i:
            _arrow(ax, (right, i - 1 + height / 2), (right, i - height / 2))
    _arrow(ax, (middle + 1.95, 0), (right - width / 2, 0))
    return fig


def _node(ax, x, y, text, random=False, colour="white"):
    from matplotlib.patches import FancyBboxPatch

    width = 0.34 + 0.085 * len(text.replace("$", "").replace("\\", "")) if len(text) > 8 else 0.9
    ax.add_patch(FancyBboxPatch((x - width / 2, y - 0.28), width, 0.56, boxstyle="round,pad=0.02,rounding_size=0.2",
                                facecolor=NOISE_COLOUR if random else colour, edgecolor="0.25",
                                linestyle="--" if random else "-", linewidth=1.1))
    ax.text(x, y, text, ha="center", va="center", fontsize=11)
    return width


def plot_reparameterisation():
    """The computation graph of a sample z of N(μ, σ²), without (left) and with (right) the trick.

    Black arrows are the forward computation, red arrows the gradients that backpropagation sends back; dashed
    boxes are random. Without the trick, z comes out of a sampler as a number that is not written as a function of
    μ and log σ², so backpropagation stops at z. With it, z = μ + σ ⊙ ε is an ordinary differentiable function of
    μ and log σ², and the randomness sits in ε, which has no parameters to learn. Returns a Figure.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(12, 4.4))
    axes = fig.subplots(1, 2)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.86, bottom=0.13, wspace=0.06)
    for ax in axes:
        ax.set_xlim(0, 10)
        ax.set_ylim(0, 6)
        ax.axis("off")

    # Without the trick.
    ax = axes[0]
    ax.set_title("Without the trick: z is drawn by a sampler\nthat is not a function backpropagation can follow",
                 fontsize=11)
    _node(ax, 1.2, 4.4, r"$\mu$")
    _node(ax, 1.2, 1.6, r"$\log \sigma^2$")
    _node(ax, 5.0, 3.0, r"$z \sim \mathcal{N}(\mu, \sigma^2)$", random=True)
    _node(ax, 8.8, 3.0, r"$L(z)$")
    for start in ((1.65, 4.3), (1.75, 1.75)):
        _arrow(ax, start, (3.7, 3.1 if start[1] > 3 else 2.9))
    _arrow(ax, (6.3, 3.0), (8.35, 3.0))
    _arrow(ax, (8.35, 2.55), (6.2, 2.55), colour=GRADIENT_COLOUR, rad=-0.25)
    ax.text(7.3, 1.85, r"$\partial L / \partial z$", ha="center", color=GRADIENT_COLOUR, fontsize=11)
    for end, y_text in (((1.7, 4.75), 4.95), ((1.85, 1.2), 0.65)):
        _arrow(ax, (3.8, 3.3 if end[1] > 3 else 2.7), end, colour=GRADIENT_COLOUR, linestyle=":",
               rad=0.25 if end[1] > 3 else -0.25)
        ax.text(3.0, y_text, "✗ no path", ha="center", color=GRADIENT_COLOUR, fontsize=10)

    # With the trick.
    ax = axes[1]
    ax.set_title("With the trick: z = μ + σ ⊙ ε, σ = exp(½ log σ²),\na differentiable function of μ and log σ²;"
                 " ε has no parameters", fontsize=11)
    _node(ax, 1.2, 4.8, r"$\mu$")
    _node(ax, 1.2, 3.0, r"$\log \sigma^2$")
    _node(ax, 1.2, 1.1, r"$\varepsilon \sim \mathcal{N}(0, I)$", random=True)
    _node(ax, 5.0, 3.0, r"$z = \mu + \sigma \odot \varepsilon$", colour=SAMPLING_COLOUR)
    _node(ax, 8.8, 3.0, r"$L(z)$")
    _arrow(ax, (1.65, 4.7), (3.6, 3.25))
    _arrow(ax, (1.75, 3.0), (3.6, 3.0))
    _arrow(ax, (2.35, 1.3), (3.6, 2.75))
    _arrow(ax, (6.4, 3.0), (8.35, 3.0))
    _arrow(ax, (8.35, 2.55), (6.3, 2.55), colour=GRADIENT_COLOUR, rad=-0.25)
    ax.text(7.3, 1.85, r"$\partial L / \partial z$", ha="center", color=GRADIENT_COLOUR, fontsize=11)
    _arrow(ax, (3.8, 3.45), (1.6, 5.15), colour=GRADIENT_COLOUR, rad=0.2)
    ax.text(2.9, 5.1, r"$\partial z / \partial \mu = 1$", ha="left", color=GRADIENT_COLOUR, fontsize=11)
    _arrow(ax, (3.6, 2.85), (1.85, 2.7), colour=GRADIENT_COLOUR, rad=-0.2)
    ax.text(3.9, 2.05, r"$\partial z / \partial \log\sigma^2 = \frac{1}{2}\sigma\varepsilon$", ha="left",
            color=GRADIENT_COLOUR, fontsize=11)

    fig.legend(handles=[Line2D([], [], color="0.2", label="forward: computes"),
                        Line2D([], [], color=GRADIENT_COLOUR, label="backward: gradient"),
                        Line2D([], [], color="0.25", linestyle="--", label="random node (dashed box)")],
               loc="lower center", ncol=3, frameon=False, fontsize=10)
    return fig
