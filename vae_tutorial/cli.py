"""The command line: ``vae-tutorial train | generate | reconstruct | evaluate | grade`` (or ``python -m vae_tutorial``).

It parses the command line and prints; what each command computes is in :mod:`vae_tutorial.commands`.
Errors the user can fix are one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import signal
import sys
import time
from pathlib import Path

from vae_tutorial import config
from vae_tutorial.config import UsageError
from vae_tutorial.course.grading import DEFAULT_TIMEOUT

PROG = "vae-tutorial"


def number(kind, low, high=math.inf, low_included: bool = True, what: str = "a number"):
    """An argparse type: a ``kind`` (``int`` or ``float``) from ``low`` (included, or not) to below ``high``,
    else a one-line error naming ``what``."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not ((low <= value) if low_included else (low < value)) or not value < high:  # NaN fails too
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_positive_int = number(int, 1, what="a positive integer")
_seed = number(int, 0, what="a non-negative integer")  # NumPy's generators refuse negative seeds
_positive_float = number(float, 0, low_included=False, what="a positive number")
_non_negative_float = number(float, 0, what="a number >= 0")
_fraction = number(float, 0, 1, what="a number in [0, 1)")


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


class _Parser(argparse.ArgumentParser):
    """``ArgumentParser`` whose errors are one line (argparse prints the usage above them)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    c = config
    parser = _Parser(prog=PROG, description="Train a Variational Autoencoder on a folder of "
                                     "images, then generate new images and reconstruct existing ones.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a VAE and write the model, history and figures",
                                description="Train a VAE. Running the same command again resumes an "
                                "interrupted run in the same --out folder.")
    train.add_argument("--data", default="emoji", help="'emoji' (default), 'shapes', or a folder of images")
    train.add_argument("--epochs", type=_positive_int, default=c.EPOCHS, help=f"number of epochs (default {c.EPOCHS})")
    train.add_argument("--out", type=Path, help="output folder (default runs/<data name>)")
    train.add_argument("--batch-size", type=_positive_int, default=c.BATCH_SIZE,
                       help=f"batch size (default {c.BATCH_SIZE})")
    train.add_argument("--latent-dim", type=_positive_int, default=c.LATENT_DIM,
                       help=f"size of z (default {c.LATENT_DIM})")
    train.add_argument("--learning-rate", type=_positive_float, default=c.LEARNING_RATE,
                       help=f"Adam's learning rate (default {c.LEARNING_RATE:g})")
    train.add_argument("--validation-split", type=_fraction, default=c.VALIDATION_SPLIT,
                       help=f"fraction of images held out for validation (default {c.VALIDATION_SPLIT})")
    train.add_argument("--seed", type=_seed, default=c.SEED, help=f"random seed (default {c.SEED})")
    train.add_argument("--shapes", type=_positive_int, default=c.SHAPES,
                       help=f"images in the shapes set (default {c.SHAPES})")
    train.add_argument("--decoder-variance", choices=c.DECODER_VARIANCES, default=c.TRAIN_DECODER_VARIANCE,
                       help="the Gaussian decoder's variance σ²: 'optimal', the batch's mean squared error (a "
                       "calibrated decoder, the default: it keeps the codes in use on simple images); 'fixed' σ² = "
                       "1/2, the summed squared error the notebooks teach; 'learned', one trainable weight")
    train.add_argument("--beta", type=_non_negative_float, default=c.BETA,
                       help="weight of the KL term (default 1; larger: a β-VAE)")
    train.add_argument("--overwrite", action="store_true", help="start again in an --out folder that holds a run")
    train.add_argument("--strategy", choices=c.STRATEGIES, default=c.STRATEGIES[0],
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
    generate.add_argument("--sampler", choices=c.SAMPLERS,
                          help="where z comes from: 'mixture', a Gaussian mixture fitted to the codes of the run's "
                          "training images (kept as mixture.npz in the run folder; train fits it), or 'prior' "
                          "N(0, I); default: the run's mixture when its folder has one for this model, else the prior")
    generate.add_argument("--components", type=_positive_int, default=c.MIXTURE_COMPONENTS,
                          help=f"components of the mixture (default {c.MIXTURE_COMPONENTS})")
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
                                   f"one, train's defaults: split {c.VALIDATION_SPLIT}, seed {c.SEED}), else every "
                                   "image of --data.")
    evaluate.add_argument("--model", type=Path, default=Path("runs/emoji/model.keras"),
                          help="a model.keras written by train (default runs/emoji/model.keras)")
    evaluate.add_argument("--data", default="emoji", help="'emoji' (default), 'shapes', or a folder of images")
    evaluate.add_argument("--k", type=_positive_int, default=c.IWAE_SAMPLES,
                          help=f"importance samples per image for the IWAE bound (default {c.IWAE_SAMPLES}; time grows with K)")
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


def cmd_train(args) -> int:
    from vae_tutorial.commands.train import TrainSettings, train_run

    settings = {field: getattr(args, field) for field in TrainSettings.__dataclass_fields__}
    train_run(TrainSettings(**settings), log=say)
    return 0


def cmd_generate(args) -> int:
    from vae_tutorial.commands.images import generated_images

    generated_images(args.model, args.out, args.n, args.seed, args.temperature, args.sampler, args.components,
                     log=say)
    say(f"wrote {args.n} generated images to {args.out}")
    return 0


def cmd_reconstruct(args) -> int:
    from vae_tutorial.commands.images import reconstructed_images

    shown = reconstructed_images(args.model, args.data, args.out, args.n, args.seed, args.cache_dir,
                                 args.rebuild_cache, log=say)
    say(f"wrote {shown} originals and their reconstructions to {args.out}")
    return 0


def cmd_evaluate(args) -> int:
    from vae_tutorial.training import runs

    if args.json is not None:
        if args.json.is_dir():
            raise UsageError(f"--json {args.json} is a folder; give the name of the JSON file to write")
        runs.check_writable(args.json.parent)
    from vae_tutorial.commands.evaluate import evaluate_held_out, held_out_images, two_sample_tests
    from vae_tutorial.saving import load_vae

    model = load_vae(args.model)
    paths, which, group_of = held_out_images(args.model, args.data, model.image_size, args.n, args.seed, log=say)
    say(f"evaluating {args.model} on {len(paths)} held-out images: {which}")
    start = time.perf_counter()
    result, pipeline = evaluate_held_out(model, paths, args.k, args.seed, log=say)
    elapsed = time.perf_counter() - start
    variance = math.exp(result["decoder_log_variance"])
    bits = 1 / (model.image_size * model.image_size * 3 * math.log(2))  # bits per dimension of one nat per image
    rows = [("", "nats per image", "bits per dim"),
            ("negative ELBO", f"{result['negative_elbo']:.1f}", f"{result['bits_per_dim']:.4f}"),
            (f"  reconstruction (decoder variance {variance:.3g})", f"{result['reconstruction']:.1f}", ""),
            ("  KL", f"{result['kl']:.1f}", ""),
            (f"negative IWAE bound, K = {args.k}", f"{result['negative_iwae']:.1f}",
             f"{result['negative_iwae'] * bits:.4f}")]
    for label, nats, per_dim in rows:
        print(f"  {label:<40}{nats:>15}{per_dim:>14}")
    print(f"  per-pixel MSE {result['mse_per_pixel']:.5f}; active units {result['active_units']} of "
          f"{model.latent_dim}; {result['images']} images in {elapsed:.1f} s")
    if args.two_sample:
        result["two_sample"] = tests = two_sample_tests(model, args.model, pipeline, paths, group_of, args.seed,
                                                        log=say)
        print(f"  two-sample test: a classifier (logistic regression on 16×16 block means, 5 folds) tells "
              f"{result['images']} held-out images from as many generated ones; 50 % means it cannot")
        for name, numbers in tests.items():
            print(f"    {name:<8} accuracy {100 * numbers['accuracy']:.1f} % ± {100 * numbers['standard_error']:.1f} "
                  f"(p = {numbers['p_value']:.2g})")
        difference = tests["prior"]["accuracy"] - tests["mixture"]["accuracy"]
        error = math.hypot(tests["prior"]["standard_error"], tests["mixture"]["standard_error"])
        print(f"    prior − mixture: {100 * difference:+.1f} points ± {100 * error:.1f} (standard errors, as "
              "independent)")
    if args.json is not None:
        runs.replace_atomically(lambda p: p.write_text(json.dumps(result, indent=2)), args.json)
        say(f"wrote {args.json}")
    return 0


def cmd_grade(args) -> int:
    """Grade each notebook in turn; print a table as each finishes, or all of them as JSON at the end."""
    from vae_tutorial.course.grading import grade_notebook

    for path in args.notebooks:
        if not path.is_file():
            raise UsageError(f"no such notebook file: {path}")
        if path.suffix != ".ipynb":
            raise UsageError(f"not a notebook (.ipynb): {path}")
    reports = []
    for number_, path in enumerate(args.notebooks):
        reports.append(grade_notebook(path, timeout=args.timeout))
        if not args.json:
            print(("\n" if number_ else "") + reports[-1].as_text(), flush=True)
    if args.json:
        print(json.dumps({"notebooks": [report.as_json() for report in reports]}, indent=2, ensure_ascii=False))
    return 0 if all(report.error is None for report in reports) else 1


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from vae_tutorial.data.images import DataError
    from vae_tutorial.saving import ModelFileError
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
