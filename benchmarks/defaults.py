"""The decoder variance of ``vae-tutorial train``, measured: σ² = ½ (fixed) against the calibrated default (optimal).

    python benchmarks/defaults.py                  # shapes, letters and emoji: about 45 minutes on 2 cores
    python benchmarks/defaults.py --data shapes    # one data set

Each data set is trained twice with the command line, ``--decoder-variance fixed`` and ``optimal``, everything
else at its default: the procedural shapes (2,000, 30 epochs), a folder of 1,500 letters and digits drawn here
(30 epochs) and the emoji (50 epochs, the quick start). For each run the table gives what ``metrics.json`` says of
the validation images decoded from their mean codes (KL per image, active dimensions, per-pixel MSE, the epochs at
whose end the posterior was collapsed); for the emoji also ``vae-tutorial evaluate --k 1 --two-sample``: how often a
classifier tells held-out images from samples of the prior and of the code mixture (50 %: it cannot).
"""

from __future__ import annotations

import argparse
import json
import random
import string
import subprocess
import sys
import tempfile
from pathlib import Path

DATA = {"shapes": ["--data", "shapes", "--shapes", "2000", "--epochs", "30"],
        "letters": ["--epochs", "30"],  # --data: the drawn folder
        "emoji": ["--data", "emoji", "--epochs", "50"]}
VARIANCES = ("fixed", "optimal")


def draw_letters(folder: Path, n: int = 1500, seed: int = 0) -> Path:
    """``n`` 64×64 PNGs of one capital letter or digit each, of random size, place and dark colour, on white."""
    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(seed)
    fonts = [path for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
                               "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf") if Path(path).exists()]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        image = Image.new("RGB", (64, 64), "white")
        size = rng.randint(28, 52)
        font = ImageFont.truetype(rng.choice(fonts), size) if fonts else ImageFont.load_default(size=size)
        glyph = rng.choice(string.ascii_uppercase + string.digits)
        colour = tuple(rng.randint(0, 160) for _ in range(3))
        position = rng.randint(0, 64 - size // 2 - 8), rng.randint(-8, 64 - size)
        ImageDraw.Draw(image).text(position, glyph, fill=colour, font=font)
        image.save(folder / f"{i:04d}_{glyph}.png")
    return folder


def vae_tutorial(*args) -> None:
    subprocess.run([sys.executable, "-m", "vae_tutorial", *map(str, args)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", choices=tuple(DATA), default=list(DATA))
    parser.add_argument("--work", type=Path, help="folder for the runs (default: a temporary folder)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="vae-defaults-"))
    rows = []
    for name in args.data:
        data = ["--data", draw_letters(work / "letters-images")] if name == "letters" else []
        for variance in VARIANCES:
            out = work / f"{name}-{variance}"
            vae_tutorial("train", *DATA[name], *data, "--decoder-variance", variance, "--out", out)
            metrics = json.loads((out / "metrics.json").read_text())
            row = {"data": name, "decoder variance": variance, "KL nats/image": f"{metrics['kl']:.3g}",
                   "active": f"{metrics['active_units']} of {metrics['latent_dim']}",
                   "per-pixel MSE": f"{metrics['mse_per_pixel']:.4f}",
                   "collapsed after epochs": ", ".join(map(str, metrics["collapsed_epochs"])) or "–"}
            if name == "emoji":
                vae_tutorial("evaluate", "--model", out / "model.keras", "--k", "1", "--two-sample",
                             "--json", out / "evaluation.json")
                tests = json.loads((out / "evaluation.json").read_text())["two_sample"]
                for sampler in ("prior", "mixture"):
                    row[f"two-sample, {sampler}"] = (f"{100 * tests[sampler]['accuracy']:.1f} % "
                                                     f"± {100 * tests[sampler]['standard_error']:.1f}")
            rows.append(row)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(row.get(column, "") for column in columns) + " |")
    print(f"runs in {work}")


if __name__ == "__main__":
    main()
