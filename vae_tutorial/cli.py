"""The command line: ``vae-tutorial train | generate | reconstruct | evaluate | grade`` (or ``python -m vae_tutorial``).

Errors the user can fix are one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import re
import signal
import sys
import threading
import time
from pathlib import Path

from vae_tutorial.course.grading import DEFAULT_TIMEOUT

PROG = "vae-tutorial"
IMAGE_SIZE = 64  # pixels: train makes models of 64×64 images
MIXTURE_COMPONENTS = 10  # Gaussians in the mixture of the codes that train fits and generate samples
MIXTURE_IMAGES = 5000  # at most this many training images' codes are fitted (time grows with them)


class UsageError(Exception):
    """A problem with what the user asked for; the message is one line."""


def _int_at_least(minimum: int, what: str):
    """An argparse type: an integer of at least ``minimum``, else a one-line error naming ``what``."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_seed = _int_at_least(0, "a non-negative integer")  # NumPy's generators refuse negative seeds


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _size(text):
    """An argparse type: a number of bytes such as 2G, 512M or 0 (K, M, G, T: powers of 1024)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([KMGT]?)(?:I?B)?\s*", text.upper())
    if not match:
        raise argparse.ArgumentTypeError(f"expected a size such as 2G, 512M or 0, got {text!r}")
    return int(float(match[1]) * 1024 ** " KMGT".index(match[2] or " "))


def _add_cache_options(parser, memory: bool) -> None:
    parser.add_argument("--cache-dir", type=Path,
                        help="folder for the decoded images that later runs on the same data reuse (default "
                        "$VAE_TUTORIAL_CACHE_DIR, else $XDG_CACHE_HOME/vae-tutorial or ~/.cache/vae-tutorial); "
                        "deleting it is always safe")
    if memory:
        parser.add_argument("--cache-memory", type=_size, default=None,
                            help="decoded images (12 KiB each) are held in memory up to this size and read "
                            "from the cache on disk beyond it (default 2G)")
    parser.add_argument("--rebuild-cache", action="store_true",
                        help="decode the images again, replacing their cache")


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """``ArgumentParser`` whose errors are one line (argparse prints the usage above them)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Train a Variational Autoencoder on a folder of "
                                     "images, then generate new images and reconstruct existing ones.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a VAE and write the model, history and figures",
                                description="Train a VAE. Running the same command again resumes an "
                                "interrupted run in the same --out folder.")
    train.add_argument("--data", default="emoji", help="'emoji' (default), 'shapes', or a folder of images")
    train.add_argument("--epochs", type=_positive_int, default=50, help="number of epochs (default 50)")
    train.add_argument("--out", type=Path, help="output folder (default runs/<data name>)")
    train.add_argument("--batch-size", type=_positive_int, default=64, help="batch size (default 64)")
    train.add_argument("--latent-dim", type=_positive_int, default=512, help="size of z (default 512)")
    train.add_argument("--learning-rate", type=_positive_float, default=1e-3, help="Adam's learning rate (default 0.001)")
    train.add_argument("--validation-split", type=_fraction, default=0.1,
                       help="fraction of images held out for validation (default 0.1)")
    train.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    train.add_argument("--shapes", type=_positive_int, default=2000, help="images in the shapes set (default 2000)")
    train.add_argument("--decoder-variance", choices=("fixed", "learned", "optimal"), default="optimal",
                       help="the Gaussian decoder's variance σ²: 'optimal', the batch's mean squared error (a "
                       "calibrated decoder, the default: it keeps the codes in use on simple images); 'fixed' σ² = "
                       "1/2, the summed squared error the notebooks teach; 'learned', one trainable weight")
    train.add_argument("--beta", type=_non_negative_float, default=1.0,
                       help="weight of the KL term (default 1; larger: a β-VAE)")
    train.add_argument("--overwrite", action="store_true", help="start again in an --out folder that holds a run")
    train.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default="default",
                       help="tf.distribute strategy: 'mirrored' trains on every GPU of this machine, 'multiworker' "
                       "on several machines described by $TF_CONFIG; --batch-size is then split across them "
                       "(default: 'default', one device)")
    _add_cache_options(train, memory=True)
    train.set_defaults(func=cmd_train)

    generate = commands.add_parser("generate", help="decode random z ~ N(0, I) into new images",
                                   description="Generate new images: decode samples from the prior, or from a "
                                   "Gaussian mixture fitted to the codes of the run's training images.")
    generate.add_argument("--model", type=Path, default=Path("runs/emoji/model.keras"),
                          help="a model.keras written by train (default runs/emoji/model.keras)")
    generate.add_argument("--n", type=_positive_int, default=64, help="how many images (default 64)")
    generate.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    generate.add_argument("--temperature", type=_positive_float, default=1.0,
                          help="scale of z's standard deviation (default 1.0)")
    generate.add_argument("--sampler", choices=("prior", "mixture"),
                          help="where z comes from: 'mixture', a Gaussian mixture fitted to the codes of the run's "
                          "training images (kept as mixture.npz in the run folder; train fits it), or 'prior' "
                          "N(0, I); default: the run's mixture when its folder has one for this model, else the prior")
    generate.add_argument("--components", type=_positive_int, default=MIXTURE_COMPONENTS,
                          help=f"components of the mixture (default {MIXTURE_COMPONENTS})")
    generate.add_argument("--out", type=Path, default=Path("generated.png"), help="PNG to write (default generated.png)")
    generate.set_defaults(func=cmd_generate)

    reconstruct = commands.add_parser("reconstruct", help="encode images and decode them again",
                                      description="Reconstruct images: encode each and decode its code.")
    reconstruct.add_argument("--model", type=Path, default=Path("runs/emoji/model.keras"),
                             help="a model.keras written by train (default runs/emoji/model.keras)")
    reconstruct.add_argument("--data", default="emoji", help="'emoji', 'shapes', or a folder of images")
    reconstruct.add_argument("--n", type=_positive_int, default=16, help="how many images (default 16)")
    reconstruct.add_argument("--seed", type=_seed, default=0, help="which images: random seed (default 0)")
    reconstruct.add_argument("--out", type=Path, default=Path("reconstructed.png"),
                             help="PNG to write (default reconstructed.png)")
    _add_cache_options(reconstruct, memory=False)
    reconstruct.set_defaults(func=cmd_reconstruct)

    evaluate = commands.add_parser("evaluate", help="held-out ELBO, bits per dimension and IWAE bound of a model",
                                   description="Evaluate a model on held-out images: the negative ELBO in nats "
                                   "per image and bits per dimension, the importance-weighted (IWAE) bound on "
                                   "-log p(x), per-pixel MSE and active units. Held out: the validation split "
                                   "of the run's config.json when --data is what the run trained on (without "
                                   "one, train's defaults: split 0.1, seed 0), else every image of --data.")
    evaluate.add_argument("--model", type=Path, default=Path("runs/emoji/model.keras"),
                          help="a model.keras written by train (default runs/emoji/model.keras)")
    evaluate.add_argument("--data", default="emoji", help="'emoji' (default), 'shapes', or a folder of images")
    evaluate.add_argument("--k", type=_positive_int, default=100,
                          help="importance samples per image for the IWAE bound (default 100; time grows with K)")
    evaluate.add_argument("--n", type=_positive_int, help="evaluate on N of the held-out images, chosen at random "
                          "(default: all)")
    evaluate.add_argument("--seed", type=_seed, default=0,
                          help="random seed of the importance samples and of --n's choice (default 0)")
    evaluate.add_argument("--two-sample", action="store_true",
                          help="also test how well a classifier tells the held-out images from as many generated "
                          "from the prior and from the run's mixture of the codes (50 %% accuracy: it cannot)")
    evaluate.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    evaluate.set_defaults(func=cmd_evaluate)

    grade = commands.add_parser("grade", help="run notebooks and grade their exercises (this runs their code)",
                                description="Run each notebook from top to bottom in a fresh kernel, with its "
                                "folder as working directory, and report each exercise (each check_* call) as "
                                "right, wrong or not attempted. This RUNS the notebooks' code with your rights: "
                                "grade students' work in a sandbox, a container or a throwaway account. The "
                                "notebooks read $VAE_TUTORIAL_EPOCHS: set it to 1 to grade quickly. Exit status: 0 "
                                "when every notebook ran to its end; 1 when one did not (its error is reported and "
                                "the next notebook is graded); 2 for a usage error.")
    grade.add_argument("notebooks", nargs="+", type=Path, metavar="NOTEBOOK", help="notebooks (.ipynb) to grade")
    grade.add_argument("--json", action="store_true",
                       help='print {"notebooks": [{"notebook", "exercises": [{"name", "status", "message"}], '
                       '"score", "out_of", and "error" when it failed}]} instead of a table')
    grade.add_argument("--timeout", type=_positive_float, default=DEFAULT_TIMEOUT, metavar="S",
                       help=f"seconds each notebook's cells may take together (default {DEFAULT_TIMEOUT})")
    grade.set_defaults(func=cmd_grade)
    return parser


def say(message: str) -> None:
    print(f"{PROG}: {message}", flush=True)


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------


def resolve_data(name: str, work_dir: Path, seed: int = 0, n_shapes: int = 2000):
    """``(image folder, group_of or None, display name)`` for 'emoji', 'shapes' or a path."""
    from vae_tutorial.data import emoji_dir, emoji_group_of, make_shapes

    if name == "emoji":
        return emoji_dir(), emoji_group_of(), "emoji"
    if name == "shapes":
        say(f"drawing {n_shapes} shapes (seed {seed}) into {work_dir / 'shapes'}")
        return make_shapes(work_dir / "shapes", n=n_shapes, seed=seed), None, "shapes"
    folder = Path(name).expanduser()
    return folder, None, folder.resolve().name or "data"


def default_out(data: str) -> Path:
    if data in ("emoji", "shapes"):
        return Path("runs") / data
    return Path("runs") / (Path(data).expanduser().resolve().name or "data")


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test.tmp"  # a kill here leaves a temporary file that training removes
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write to output folder {out}: {exc.strerror or exc}") from None


def _check_png_target(path: Path) -> None:
    if path.is_dir():
        raise UsageError(f"--out {path} is a folder; give the name of the PNG file to write")
    _check_writable(path.parent if str(path.parent) else Path("."))


# ---------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------

def _write_figures(model, originals, out: Path, seed: int, mixture=None) -> None:
    """``samples.png`` (64 images generated with ``seed`` from ``mixture``, or from the prior without one),
    ``samples_prior.png`` (the same from the prior) and ``reconstructions.png`` of ``originals``."""
    from vae_tutorial.evaluation.codes import reconstruct
    from vae_tutorial.generation.images import generate
    from vae_tutorial.plots.images import GENERATED_TITLE, MIXTURE_TITLE, plot_generated, plot_reconstructions
    from vae_tutorial.training.runs import replace_atomically

    prior = plot_generated(generate(model, 64, seed=seed), title=GENERATED_TITLE)
    replace_atomically(lambda p: prior.savefig(p, format="png", dpi=100), out / "samples_prior.png")
    fig = prior if mixture is None else plot_generated(generate(model, 64, seed=seed, mixture=mixture),
                                                       title=MIXTURE_TITLE)
    replace_atomically(lambda p: fig.savefig(p, format="png", dpi=100), out / "samples.png")
    fig = plot_reconstructions(originals, reconstruct(model, originals),
                               title="Reconstructions of validation images: originals above, "
                               "decoded from their encodings below")
    replace_atomically(lambda p: fig.savefig(p, format="png", dpi=100), out / "reconstructions.png")


@dataclasses.dataclass
class _Images:
    """The images one worker trains on (with one worker: all the images of the folder)."""

    train: list  # this worker's usable training images (paths)
    val: list  # this worker's usable validation images
    skipped: list  # (path, reason): the files skipped by name, and the files of this worker that do not decode
    files: tuple  # (training, validation) files of this worker, usable or not
    per_worker: tuple  # (training, validation) images each worker takes per epoch
    figure_files: list  # the validation files every worker draws the reconstruction figure's images from


def _read_folder(folder_path, group_of, validation_split: float, seed: int, cache: dict) -> _Images:
    """One worker: decode every image of the folder."""
    from vae_tutorial.data.folders import find_images
    from vae_tutorial.data.pipeline import split_paths

    folder = find_images(folder_path, **cache)
    train, val = split_paths(folder.paths, validation_split, seed, group_of)
    return _Images(train, val, folder.skipped, (len(train), len(val)), (len(train), len(val)), val or train)


def _read_share(folder_path, group_of, validation_split: float, seed: int, index: int, workers: int,
                cache: dict) -> _Images:
    """Worker ``index`` of ``workers``: decode only this worker's share of the folder's image files.

    Every worker lists the same files and splits them into training and validation files by their
    paths alone, so all workers agree on the split without decoding; each then decodes every
    ``workers``-th file of each side (see :func:`~vae_tutorial.fast.distribute.worker_share`) into
    a cache of its own. The usable images are this worker's; so are the skipped files, those skipped
    by name and those of this worker's share that do not decode, which only this worker knows.
    Whether every share is usable is for :func:`_check_images` to say, on every worker at once.
    """
    from vae_tutorial.data.folders import decode_files, list_images
    from vae_tutorial.data.pipeline import split_paths
    from vae_tutorial.training.distribute import worker_share

    candidates, skipped = list_images(folder_path)
    train_files, val_files = split_paths(candidates, validation_split, seed, group_of)
    mine = worker_share(train_files, index, workers), worker_share(val_files, index, workers)
    say(f"worker {index} of {workers}: decoding its share, {len(mine[0]) + len(mine[1]):,} of the "
        f"{len(candidates):,} image files")
    found = decode_files(folder_path, mine[0] + mine[1], part=f"worker{index}of{workers}", **cache)
    usable = set(found.paths)
    train_paths, val_paths = ([p for p in files if p in usable] for files in mine)
    return _Images(train_paths, val_paths, sorted(skipped + found.skipped), (len(mine[0]), len(mine[1])),
                   (len(train_files) // workers, len(val_files) // workers), val_files or train_files)


def _report_images(images: _Images, out: Path, share: str) -> None:
    """Write ``out/skipped.txt`` (each skipped file with its reason) and say how many images are usable."""
    from vae_tutorial.training.runs import replace_atomically

    listing = "".join(f"{p}\t{r}\n" for p, r in images.skipped)
    replace_atomically(lambda p: p.write_text(listing, encoding="utf-8"), out / "skipped.txt")
    say(f"{len(images.train) + len(images.val)} usable images, {len(images.skipped)} skipped{share}"
        + (f" (each listed with its reason in {out / 'skipped.txt'})" if images.skipped else ""))
    for path, reason in images.skipped[:5]:
        say(f"  skipped {path}: {reason}")


def _check_images(images: _Images, folder_path, index: int, workers: int, together=None) -> None:
    """Stop (:class:`UsageError`) when a worker has no usable training image, or (of several workers)
    none of its files or none of its validation files decodes.

    ``together``: the strategy of the workers, which then exchange their numbers first
    (:func:`~vae_tutorial.fast.distribute.gather_from_workers`), so that every worker stops, with the
    same line, when any one's share is unusable: none waits for a worker that has stopped. Without
    it, this worker checks its own images only.
    """
    from vae_tutorial.training.distribute import gather_from_workers

    mine = [len(images.train), len(images.val), *images.files]
    counts = enumerate(gather_from_workers(together, mine)) if together is not None else [(index, mine)]
    for worker, (train, val, train_files, val_files) in counts:
        if workers > 1 and not train + val:
            raise UsageError(f"none of the {train_files + val_files} image files of worker {worker}'s share of "
                             f"{folder_path} decodes (that worker lists them in its skipped.txt)")
        if workers > 1 and val_files and not val and images.per_worker[1] >= 1:
            raise UsageError(f"none of worker {worker}'s {val_files} validation files decodes; "
                             "choose another --seed or --validation-split")
        if not train:
            raise UsageError(f"no training images left after the validation split of {folder_path}"
                             + (f" in worker {worker}'s share" if workers > 1 else ""))


def _figure_images(images: _Images, seed: int, workers: int):
    """The reconstruction figure's 16 validation images: the same on every worker."""
    import numpy as np

    from vae_tutorial.data.folders import first_usable
    from vae_tutorial.data.pipeline import read_images

    files = images.figure_files
    chosen = np.random.default_rng(seed).permutation(len(files))
    if workers > 1:  # decoded here, the first 16 usable ones: no worker holds them all
        return first_usable([files[i] for i in chosen], 16, IMAGE_SIZE)
    return read_images([files[i] for i in sorted(chosen[:16])], IMAGE_SIZE)


def cmd_train(args) -> int:
    from vae_tutorial.training import runs
    from vae_tutorial.model import load_vae
    from vae_tutorial.training.distribute import TrainingPhase

    index, workers = _configured_worker(args.strategy)
    out = args.out or default_out(args.data)
    if index > 0:  # only the chief writes the run folder; the other workers keep their state apart
        out = out / "workers" / f"worker_{index}"
    _check_writable(out)
    config = {"data": args.data if args.data in ("emoji", "shapes") else str(Path(args.data).expanduser().resolve()),
              "latent_dim": args.latent_dim, "batch_size": args.batch_size, "learning_rate": args.learning_rate,
              "validation_split": args.validation_split, "seed": args.seed, "image_size": IMAGE_SIZE,
              "shapes": args.shapes if args.data == "shapes" else None,
              "decoder_variance": args.decoder_variance, "beta": args.beta}
    if args.overwrite:
        runs.clear(out)
    state = runs.run_state(out, config, args.epochs, keeps_model=index == 0)
    if state == "finished" and index > 0:  # told by this worker's own folder: it waits for no other worker
        say(f"worker {index}: {out} records that this run of {args.epochs} epochs has finished; nothing to do "
            "(pass --overwrite to train again)")
        return 0
    # A strategy must exist before TensorFlow runs any operation (multi-worker collectives); a finished run needs none.
    strategy = _start_strategy(args.strategy) if state != "finished" else None

    folder_path, group_of, name = resolve_data(args.data, out, args.seed, args.shapes)
    say(f"reading images from {folder_path}")
    cache = dict(image_size=IMAGE_SIZE, cache_dir=args.cache_dir, memory_budget=args.cache_memory,
                 rebuild_cache=args.rebuild_cache, log=say)
    if workers > 1:
        images = _read_share(folder_path, group_of, args.validation_split, args.seed, index, workers, cache)
    else:
        images = _read_folder(folder_path, group_of, args.validation_split, args.seed, cache)
    share = f" in worker {index}'s share" if workers > 1 else ""
    _report_images(images, out, share)
    together = strategy if workers > 1 and strategy is not None else None  # the workers that train together
    phase = TrainingPhase()
    with _lost_workers_told(index, out, phase) if together is not None else contextlib.nullcontext():
        _check_images(images, folder_path, index, workers, together)
        say(f"{len(images.train)} training and {len(images.val)} validation images"
            + (" (skin-tone variants kept on one side)" if name == "emoji" else "") + share)
        if state == "finished":
            say(f"{out} already holds this finished run of {args.epochs} epochs; rewriting its figures only "
                "(pass --overwrite to train again)")
            model = load_vae(out / "model.keras")
            mixture = None
            if workers == 1:
                mixture = (_saved_mixture(out / "model.keras", MIXTURE_COMPONENTS)
                           or _fit_mixture(out / "model.keras", model, images.train, args.seed))
            _write_figures(model, _figure_images(images, args.seed, workers), out, args.seed, mixture)
            return 0
        history, elapsed = _train_and_draw(args, strategy, images, out, config, state, (index, workers), phase)
    if index > 0:
        # The worker's training state is of no more use; its config.json, marked finished, tells the same
        # command started again that the run is done, without waiting for any other worker.
        runs.clear(out)
        runs.write_config(out, {**config, "epochs": args.epochs, "finished": True})
        say(f"worker {index} done; the chief (worker 0) wrote the model, history and figures")
        return 0
    runs.write_config(out, {**config, "epochs": args.epochs, "finished": True})
    last = {k: v[-1] for k, v in history.history.items() if v}
    say(f"done in {elapsed / 60:.1f} min ({last.get('images_per_second', 0):.0f} training images/s)"
        + (f"; {_validation_summary(last, args.decoder_variance)}" if "val_loss" in last else ""))
    say(f"wrote {out / 'model.keras'}, {out / 'history.csv'}, {out / 'samples.png'} (generated"
        + (" from the mixture of the codes" if workers == 1 else "") + f"), {out / 'samples_prior.png'} "
        f"(generated from the prior), {out / 'reconstructions.png'} and per-epoch grids in {out / 'epochs'}; "
        f"TensorBoard: tensorboard --logdir {out / 'logs'}")
    return 0


def _validation_summary(last: dict, decoder_variance: str) -> str:
    """The last epoch's validation terms, each named for what it is (Keras computes them from one sampled z)."""
    term = ("squared error summed per image" if decoder_variance == "fixed"
            else "the decoder's negative log-likelihood per image, less D/2·log π")
    return (f"validation, last epoch, one z ~ q(z|x) per image: reconstruction {last['val_reconstruction_loss']:.2f} "
            f"({term}), KL {last['val_kl_loss']:.2f} nats")


def _train_and_draw(args, strategy, images: _Images, out: Path, config: dict, state: str, worker: tuple,
                    phase) -> tuple:
    """Train the run ``config`` (``state``: ``"new"`` or ``"resume"``) on this worker's ``images`` into ``out``,
    then write the figures; ``(Keras' History, seconds of training)``. ``worker``: ``(index, count)``."""
    import keras

    from vae_tutorial.training import runs
    from vae_tutorial.data.pipeline import make_pipeline
    from vae_tutorial.training.callbacks import TrainingDiverged
    from vae_tutorial.training.distribute import per_worker_pipeline
    from vae_tutorial.training.trainer import build_vae, train

    index, workers = worker
    keras.utils.set_random_seed(args.seed)
    sizes = images.per_worker
    if workers > 1:
        say(f"worker {index} of {workers}: each worker trains on {sizes[0]} images of its share per epoch")
        train_ds = per_worker_pipeline(strategy, images.train, sizes[0], args.batch_size, make_pipeline,
                                       shuffle=True, seed=args.seed, image_size=IMAGE_SIZE)
        val_ds = per_worker_pipeline(strategy, images.val, sizes[1], args.batch_size, make_pipeline,
                                     shuffle=False, image_size=IMAGE_SIZE) if sizes[1] >= 1 else None
    else:
        train_ds = make_pipeline(images.train, args.batch_size, shuffle=True, seed=args.seed, image_size=IMAGE_SIZE)
        val_ds = make_pipeline(images.val, args.batch_size, shuffle=False,
                               image_size=IMAGE_SIZE) if images.val else None
    model = build_vae(latent_dim=args.latent_dim, learning_rate=args.learning_rate, image_size=IMAGE_SIZE,
                      seed=args.seed, decoder_variance=args.decoder_variance, beta=args.beta, strategy=strategy)
    runs.write_config(out, {**config, "epochs": args.epochs, "finished": False})
    if state == "resume":
        say(f"resuming the interrupted run in {out} after epoch {runs.resume_epoch(out)}")
    say(f"training for {args.epochs} epochs; outputs go to {out}")
    start = time.perf_counter()
    try:
        history = train(model, train_ds, val_ds, epochs=args.epochs, out_dir=out,
                        images_per_epoch=sizes[0] * workers, seed=args.seed, extra_callbacks=[phase])
    except TrainingDiverged as exc:
        kept = (f"the model after epoch {exc.epoch - 1} is kept in {out / 'model.keras'}" if exc.epoch > 1
                else "no epoch finished, so there is no model to keep")
        raise UsageError(f"training diverged: {exc}; {kept}; try a smaller --learning-rate "
                         "(with another --out or --overwrite)") from None
    elapsed = time.perf_counter() - start
    mixture = _fit_mixture(out / "model.keras", model, images.train, args.seed) if workers == 1 else None
    # every worker: predict is collective
    _write_figures(model, _figure_images(images, args.seed, workers), out, args.seed, mixture)
    return history, elapsed


def _configured_worker(strategy_name: str) -> tuple:
    """``(index, count)`` of this process among the workers: from ``$TF_CONFIG`` for ``--strategy multiworker``
    (read before any strategy exists), else ``(0, 1)``."""
    if strategy_name != "multiworker":
        return 0, 1
    from vae_tutorial.training.distribute import configured_worker

    try:
        return configured_worker()
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # e.g. a malformed $TF_CONFIG
        raise _strategy_error(strategy_name, exc) from None


def _start_strategy(name):
    """The ``tf.distribute`` strategy ``name``; of several workers, once all of them have started."""
    from vae_tutorial.training.distribute import make_strategy

    try:
        strategy = make_strategy(name)
    except (ValueError, KeyError, RuntimeError) as exc:  # e.g. a malformed $TF_CONFIG
        raise _strategy_error(name, exc) from None
    # MultiWorkerMirroredStrategy's runtime takes over SIGTERM (for its preemption notices), after which a
    # worker would not stop when told to: give it back to the handler that main() installed.
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is not None:
        signal.signal(signal.SIGTERM, signal.getsignal(signal.SIGTERM))
    return strategy


def _strategy_error(name, exc) -> UsageError:
    return UsageError(f"cannot start --strategy {name}: {' '.join(str(exc).split())[:200]}")


@contextlib.contextmanager
def _lost_workers_told(index: int, out: Path, phase):
    """Within the block, a lost worker (killed, crashed, unreachable) stops this one with one line that
    names it and says how to resume (:class:`UsageError`), in place of TensorFlow's error, its traceback
    and its runtime's dozens of log lines on stderr, which are dropped. ``phase``: where training is
    (:class:`~vae_tutorial.fast.distribute.TrainingPhase`)."""
    import tensorflow as tf

    from vae_tutorial.quiet import runtime_log_held
    from vae_tutorial.training.distribute import lost_worker

    with runtime_log_held() as log:
        try:
            yield
        except tf.errors.OpError as exc:
            lost, which = lost_worker(exc, index)
            if not lost:
                raise
            log.drop_failure()
            raise UsageError(_lost_worker_message(which, phase, out)) from None


def _lost_worker_message(which, phase, out: Path) -> str:
    """What a worker says when worker ``which`` (``None``: not known which) was lost while training was at ``phase``."""
    from vae_tutorial.training import runs

    who = f"worker {which}" if which is not None else "another worker"
    again = "start every worker's command again"
    if phase.ended:
        return f"lost contact with {who} after the last epoch; the trained run is kept in {out}: {again} to finish it"
    when = f"during epoch {phase.epoch}" if phase.epoch else "before training"
    done = runs.resume_epoch(out)
    if done:
        return f"lost contact with {who} {when}; the run is kept in {out} (resumes after epoch {done}): {again}"
    return f"lost contact with {who} {when}, before any epoch had finished: {again}"


# ---------------------------------------------------------------------------------------
# generate, reconstruct
# ---------------------------------------------------------------------------------------


def cmd_generate(args) -> int:
    from vae_tutorial.generation.images import generate
    from vae_tutorial.model import load_vae
    from vae_tutorial.plots.images import GENERATED_TITLE, MIXTURE_TITLE, plot_generated
    from vae_tutorial.training.runs import replace_atomically

    model = load_vae(args.model)
    _check_png_target(args.out)
    if args.sampler == "mixture":
        mixture = _run_mixture(args.model, model, args.components)
    elif args.sampler is None:
        mixture = _saved_mixture(args.model, args.components, if_damaged="sampling the prior")
        say(f"sampling the run's mixture of {args.components} Gaussians (--sampler prior for the prior)"
            if mixture is not None else
            f"sampling the prior N(0, I): {args.model.parent} holds no mixture fitted to this model")
    else:
        mixture = None
    images = generate(model, args.n, seed=args.seed, temperature=args.temperature, mixture=mixture)
    if mixture is not None:
        title = MIXTURE_TITLE + (f", temperature {args.temperature:g}" if args.temperature != 1.0 else "")
    else:
        title = GENERATED_TITLE if args.temperature == 1.0 else \
            f"Generated: decoded from random z ~ N(0, {args.temperature:g}² I)"
    fig = plot_generated(images, title=title)
    replace_atomically(lambda p: fig.savefig(p, format="png", dpi=100), args.out)
    say(f"wrote {args.n} generated images to {args.out}")
    return 0


def _run_mixture(model_path: Path, model, n_components: int):
    """The Gaussian mixture of the codes of the training images of the run that wrote ``model_path``.

    Read from ``mixture.npz`` in the run folder when it was fitted to this model file with
    ``n_components``; otherwise fitted now and saved there.
    """
    import json

    from vae_tutorial.data.folders import find_images
    from vae_tutorial.data.pipeline import split_paths

    run = model_path.parent
    try:
        config = json.loads((run / "config.json").read_text())
        data, seed, split = config["data"], config["seed"], config["validation_split"]
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(f"--sampler mixture needs the run folder the model was trained in, with its config.json; "
                         f"{run / 'config.json'} is missing or unreadable") from None
    mixture = _saved_mixture(model_path, n_components)
    if mixture is not None:
        say(f"using the mixture of {n_components} Gaussians in {run / 'mixture.npz'}")
        return mixture
    folder_path, group_of, _ = resolve_data(data, run, seed, config.get("shapes") or 2000)
    folder = find_images(folder_path, image_size=model.image_size, progress=False)
    train_paths, _ = split_paths(folder.paths, split, seed, group_of)
    if len(train_paths) < n_components:
        raise UsageError(f"--components {n_components} is more than the {len(train_paths)} training images")
    return _fit_mixture(model_path, model, train_paths, seed, n_components)


def _saved_mixture(model_path: Path, n_components: int, if_damaged: str = "fitting it again"):
    """The mixture in the run folder of ``model_path`` if it was fitted to this model file with ``n_components``,
    else None. A damaged file is said so, with what happens instead (``if_damaged``)."""
    import hashlib

    from vae_tutorial.generation.mixture import load_code_mixture

    path = model_path.parent / "mixture.npz"
    if not path.exists():
        return None
    try:
        mixture, saved = load_code_mixture(path)
    except ValueError as exc:
        say(f"cannot read {path} ({exc}); {if_damaged}")
        return None
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    return mixture if saved.get("model_sha256") == digest and mixture.n_components == n_components else None


def _fit_mixture(model_path: Path, model, train_paths, seed: int, n_components: int = MIXTURE_COMPONENTS):
    """Fit the mixture of the codes of (at most :data:`MIXTURE_IMAGES` of) ``train_paths`` and save it as
    ``mixture.npz`` beside ``model_path``, marked with the model file's SHA-256. With fewer training images than
    ``n_components``, as many components as images."""
    import hashlib

    import numpy as np

    from vae_tutorial.data.pipeline import make_pipeline
    from vae_tutorial.generation.mixture import fit_code_mixture, save_code_mixture
    from vae_tutorial.training.runs import replace_atomically

    if len(train_paths) > MIXTURE_IMAGES:
        chosen = np.random.default_rng(seed).permutation(len(train_paths))[:MIXTURE_IMAGES]
        train_paths = [train_paths[i] for i in sorted(chosen)]
    n_components = min(n_components, len(train_paths))
    path = model_path.parent / "mixture.npz"
    say(f"fitting a mixture of {n_components} Gaussians to the codes of {len(train_paths)} training images")
    images = np.concatenate(list(make_pipeline(train_paths, 256, shuffle=False, image_size=model.image_size)
                                 .as_numpy_iterator()))
    mixture = fit_code_mixture(model, images, n_components=n_components, seed=seed)
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    replace_atomically(lambda p: save_code_mixture(mixture, p, model_sha256=digest), path)
    say(f"saved it to {path}")
    return mixture


def cmd_reconstruct(args) -> int:
    import numpy as np

    from vae_tutorial.data.folders import find_images
    from vae_tutorial.data.pipeline import read_images
    from vae_tutorial.evaluation.codes import reconstruct
    from vae_tutorial.model import load_vae
    from vae_tutorial.plots.images import plot_reconstructions
    from vae_tutorial.training.runs import replace_atomically

    model = load_vae(args.model)
    _check_png_target(args.out)
    folder_path, _, _ = resolve_data(args.data, Path("runs") / "shapes-data", args.seed)
    folder = find_images(folder_path, image_size=model.image_size, cache_dir=args.cache_dir,
                         rebuild_cache=args.rebuild_cache, log=say)
    chosen = sorted(np.random.default_rng(args.seed).permutation(len(folder.paths))[:args.n])
    originals = read_images([folder.paths[i] for i in chosen], model.image_size)
    fig = plot_reconstructions(originals, reconstruct(model, originals))
    replace_atomically(lambda p: fig.savefig(p, format="png", dpi=100), args.out)
    say(f"wrote {len(originals)} originals and their reconstructions to {args.out}")
    return 0


# ---------------------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------------------


def _held_out_images(model_path: Path, data: str, image_size: int):
    """``(paths, phrase, group_of)``: the held-out images for ``evaluate``, a phrase that says which they are, and
    the data set's function path → group (None: each image its own)."""
    import json

    from vae_tutorial.data.folders import find_images
    from vae_tutorial.data.pipeline import split_paths

    config_file = model_path.parent / "config.json"
    config = {}
    if config_file.is_file():
        try:
            config = json.loads(config_file.read_text())
        except ValueError:
            raise UsageError(f"{config_file} is not valid JSON") from None
        if not isinstance(config, dict):
            raise UsageError(f"{config_file} does not hold a run's settings")
    split, seed = config.get("validation_split", 0.1), config.get("seed", 0)
    key = data if data in ("emoji", "shapes") else str(Path(data).expanduser().resolve())
    trained_on_data = config.get("data", key) == key
    shapes_dir = model_path.parent if config.get("data") == "shapes" else Path("runs") / "shapes-data"
    folder_path, group_of, name = resolve_data(data, shapes_dir, seed, config.get("shapes") or 2000)
    paths = find_images(folder_path, image_size=image_size).paths
    if not trained_on_data:
        return paths, f"every image of {name} (the model was trained on {config.get('data')})", group_of
    _, held_out = split_paths(paths, split, seed, group_of)
    if not held_out:
        raise UsageError(f"the run held out no images of {name} (validation split {split}); "
                         "give other images with --data FOLDER")
    source = "as in the run's config.json" if config else "train's defaults: no config.json beside the model"
    return held_out, f"the validation split {split} (seed {seed}) of {name} ({source})", group_of


def cmd_evaluate(args) -> int:
    import json

    import numpy as np

    if args.json is not None:
        if args.json.is_dir():
            raise UsageError(f"--json {args.json} is a folder; give the name of the JSON file to write")
        _check_writable(args.json.parent)
    from vae_tutorial.data.pipeline import make_pipeline
    from vae_tutorial.evaluation.bounds import decoder_log_variance, evaluate
    from vae_tutorial.model import load_vae
    from vae_tutorial.training.runs import replace_atomically

    model = load_vae(args.model)
    paths, which, group_of = _held_out_images(args.model, args.data, model.image_size)
    if args.n is not None and args.n < len(paths):
        paths = [paths[i] for i in sorted(np.random.default_rng(args.seed).permutation(len(paths))[:args.n])]
    if len(paths) < 2:
        raise UsageError(f"evaluate needs at least 2 held-out images; found {len(paths)} in {which}")
    say(f"evaluating {args.model} on {len(paths)} held-out images: {which}")
    start = time.perf_counter()
    pipeline = make_pipeline(paths, batch_size=64, shuffle=False, image_size=model.image_size)
    try:
        log_variance = decoder_log_variance(model, pipeline, args.seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    mode = getattr(model, "decoder_variance", "fixed")
    say(f"decoder variance: {mode}, σ² = {np.exp(log_variance):.3g}"
        + (" (the per-value MSE of these images decoded from one z ~ q(z|x) each)" if mode == "optimal" else ""))
    result = evaluate(model, pipeline, k=args.k, seed=args.seed, log_variance=log_variance, progress=True)
    elapsed = time.perf_counter() - start
    bits = 1 / (model.image_size * model.image_size * 3 * np.log(2))  # bits per dimension of one nat per image
    rows = [("", "nats per image", "bits per dim"),
            ("negative ELBO", f"{result['negative_elbo']:.1f}", f"{result['bits_per_dim']:.4f}"),
            (f"  reconstruction (decoder variance {np.exp(log_variance):.3g})",
             f"{result['reconstruction']:.1f}", ""),
            ("  KL", f"{result['kl']:.1f}", ""),
            (f"negative IWAE bound, K = {args.k}", f"{result['negative_iwae']:.1f}",
             f"{result['negative_iwae'] * bits:.4f}")]
    for label, nats, per_dim in rows:
        print(f"  {label:<40}{nats:>15}{per_dim:>14}")
    print(f"  per-pixel MSE {result['mse_per_pixel']:.5f}; active units {result['active_units']} of "
          f"{model.latent_dim}; {result['images']} images in {elapsed:.1f} s")
    if args.two_sample:
        result["two_sample"] = _two_sample(model, args.model, pipeline, paths, group_of, args.seed)
    if args.json is not None:
        replace_atomically(lambda p: p.write_text(json.dumps(result, indent=2)), args.json)
        say(f"wrote {args.json}")
    return 0


def _two_sample(model, model_path: Path, pipeline, paths, group_of, seed: int) -> dict:
    """The classifier two-sample test of the held-out images against as many generated from the prior and from
    the run's mixture; prints a table and returns ``{sampler: the test's numbers}``."""
    import numpy as np

    from vae_tutorial.evaluation.two_sample import classifier_two_sample_test
    from vae_tutorial.generation.images import generate

    real = np.concatenate(list(pipeline.as_numpy_iterator()))
    groups = [group_of(p) for p in paths] if group_of else None
    samplers = {"prior": None, "mixture": _run_mixture(model_path, model, MIXTURE_COMPONENTS)}
    results = {}
    for name, mixture in samplers.items():
        generated = generate(model, len(real), seed=seed, mixture=mixture)
        results[name] = classifier_two_sample_test(real, generated, groups=groups, seed=seed)
    print(f"  two-sample test: a classifier (logistic regression on 16×16 block means, 5 folds) tells {len(real)} "
          f"held-out images from as many generated ones; 50 % means it cannot")
    for name, numbers in results.items():
        print(f"    {name:<8} accuracy {100 * numbers['accuracy']:.1f} % ± {100 * numbers['standard_error']:.1f} "
              f"(p = {numbers['p_value']:.2g})")
    difference = results["prior"]["accuracy"] - results["mixture"]["accuracy"]
    error = np.hypot(results["prior"]["standard_error"], results["mixture"]["standard_error"])
    print(f"    prior − mixture: {100 * difference:+.1f} points ± {100 * error:.1f} (standard errors, as independent)")
    return results


# ---------------------------------------------------------------------------------------
# grade
# ---------------------------------------------------------------------------------------


def cmd_grade(args) -> int:
    """Grade each notebook in turn; print a table as each finishes, or all of them as JSON at the end."""
    from vae_tutorial.course.grading import grade_notebook

    for path in args.notebooks:
        if not path.is_file():
            raise UsageError(f"no such notebook file: {path}")
        if path.suffix != ".ipynb":
            raise UsageError(f"not a notebook (.ipynb): {path}")
    reports = []
    for number, path in enumerate(args.notebooks):
        reports.append(grade_notebook(path, timeout=args.timeout))
        if not args.json:
            print(("\n" if number else "") + reports[-1].as_text(), flush=True)
    if args.json:
        print(json.dumps({"notebooks": [report.as_json() for report in reports]}, indent=2, ensure_ascii=False))
    return 0 if all(report.error is None for report in reports) else 1


# ---------------------------------------------------------------------------------------


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from vae_tutorial.data.images import DataError
    from vae_tutorial.model import ModelFileError
    from vae_tutorial.training.runs import RunFolderError

    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return args.func(args)
    except (UsageError, DataError, ModelFileError, RunFolderError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = " Run the same command again to resume from the last finished epoch." if args.command == "train" else ""
        print(f"\n{PROG}: interrupted.{hint}", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
