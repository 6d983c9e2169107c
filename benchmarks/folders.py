"""Folders of any size: the reading of a folder before the image cache (bd650ef) and after it, side by side.

    python benchmarks/folders.py                          # 1,000, 10,000 and 50,000 JPEGs of 160×160
    python benchmarks/folders.py --sizes 1000 5000 20000

For each folder size and each way of reading it, two runs, each in a fresh process: the first
on a new cache folder, the second on the same folder again. A run calls ``find_images`` and then
makes two passes over ``make_pipeline(paths, 64, shuffle=True)`` (the first and a later epoch's
input, without training). The ways:

- ``old`` (before): ``vae_tutorial/data.py`` as of commit bd650ef (read with ``git show``): ``find_images``
  decodes each file to check it, the pipeline decodes it again and caches float32 in memory;
- ``new`` (after): the image cache, held in memory (the default budget of 2 GiB);
- ``disk`` (after, on disk): the image cache with a memory budget of 0 (``--cache-memory 0``): every batch
  is read from the cache file.

Each process counts the decodes (``preprocess_image`` calls in the old code, ``decode_image`` in
the new) and reports its peak resident memory (``VmHWM``, Linux) and its memory just before
reading the folder (TensorFlow loaded). The folders are generated once, as a few hundred
different JPEGs written under many names (hard links between the sizes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OLD_COMMIT = "bd650ef"
WAYS = {"old": "before (bd650ef)", "new": "after", "disk": "after, on disk"}


def make_folders(work: Path, sizes: list[int], seed: int = 0) -> dict[int, Path]:
    """A folder of ``n`` 160×160 JPEGs for each of ``sizes`` under ``work`` (made once, reused after)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    largest = work / f"jpegs-{max(sizes)}"
    if not (largest / "DONE").exists():
        largest.mkdir(parents=True, exist_ok=True)
        bases = []
        for _ in range(256):  # smooth colour fields with noise: photo-like JPEGs of 5 to 10 KB
            small = rng.integers(0, 256, (5, 5, 3), dtype=np.uint8)
            field = np.asarray(Image.fromarray(small).resize((160, 160), Image.Resampling.BICUBIC), np.int16)
            noisy = np.clip(field + rng.integers(-12, 13, field.shape), 0, 255).astype(np.uint8)
            path = largest / "base.jpg"
            Image.fromarray(noisy).save(path, quality=90)
            bases.append(path.read_bytes())
        path.unlink()
        for i in range(max(sizes)):
            (largest / f"img_{i:06d}.jpg").write_bytes(bases[i % len(bases)])
        (largest / "DONE").write_text("")
    folders = {}
    for n in sizes:
        folder = work / f"jpegs-{n}"
        if not (folder / "DONE").exists():
            folder.mkdir(exist_ok=True)
            for i in range(n):
                target = folder / f"img_{i:06d}.jpg"
                if not target.exists():
                    os.link(largest / target.name, target)
            (folder / "DONE").write_text("")
        folders[n] = folder
    return folders


def old_module(work: Path) -> Path:
    """``vae_tutorial/data.py`` of the old commit, as a file (its test hook import made inert)."""
    source = subprocess.run(["git", "show", f"{OLD_COMMIT}:vae_tutorial/data.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    source = source.replace("from vae_tutorial import _testhook",
                            "import types\n_testhook = types.SimpleNamespace(reached=lambda point: None)")
    path = work / "old_data.py"
    path.write_text(source)
    return path


def memory_mib() -> tuple[float, float]:
    """(peak, current) resident memory of this process in MiB (Linux)."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(status["VmHWM"].split()[0]) / 1024, int(status["VmRSS"].split()[0]) / 1024


def child(way: str, folder: str, cache: str, old_path: str) -> None:
    """One run in this process; prints one JSON line."""
    import importlib.util

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(ROOT))
    import tensorflow as tf

    from vae_tutorial.data import folders

    if way == "old":
        spec = importlib.util.spec_from_file_location("old_data", old_path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["old_data"] = module  # its dataclass looks itself up there
        spec.loader.exec_module(module)
        name, options = "preprocess_image", {}
    else:
        module = folders
        name, options = "decode_image", {"cache_dir": cache, "memory_budget": 0 if way == "disk" else None}
    decodes = []
    original = getattr(module, name)

    def counted(path, image_size=64):
        decodes.append(1)
        return original(path, image_size)

    setattr(module, name, counted)
    sum(1 for _ in tf.data.Dataset.range(3).map(lambda x: x + 1))  # TensorFlow's runtime started
    _, before = memory_mib()
    start = time.perf_counter()
    found = module.find_images(folder, progress=False, **options)
    find_s = time.perf_counter() - start
    passes = []
    ds = module.make_pipeline(found.paths, 64, shuffle=True, seed=0)
    for _ in range(2):
        start, n = time.perf_counter(), 0
        for batch in ds:
            n += int(batch.shape[0])
        passes.append(time.perf_counter() - start)
    assert n == len(found.paths)
    peak, _ = memory_mib()
    print(json.dumps({"images": len(found.paths), "find_s": find_s, "decodes": len(decodes), "pass_s": passes, "before_mib": before, "peak_mib": peak}))


def run_child(way: str, folder: Path, cache: Path, old_path: Path) -> dict:
    command = [sys.executable, __file__, "--child", way, str(folder), str(cache), str(old_path)]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if result.returncode != 0:
        raise SystemExit(f"{way} on {folder} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def table(rows, headers) -> str:
    widths = [max(len(str(r[i])) for r in rows + [headers]) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def machine_line() -> str:
    model = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{model}, {os.cpu_count()} logical CPUs; load average {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "vae-tutorial-folders",
                        help="where the generated folders are kept between runs")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)

    args.work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    folders = make_folders(args.work, sorted(args.sizes))
    print(f"folders of {', '.join(f'{n:,}' for n in sorted(args.sizes))} JPEGs in {args.work} "
          f"({time.perf_counter() - start:.0f} s)", flush=True)
    old_path = old_module(args.work)
    rows, peaks = [], {}
    with tempfile.TemporaryDirectory(prefix="vae-cache-") as caches:
        for n in sorted(args.sizes):
            for way, label in WAYS.items():
                cache = Path(caches) / f"{way}-{n}"
                first, second = (run_child(way, folders[n], cache, old_path) for _ in range(2))
                peaks.setdefault(way, []).append((n, first["peak_mib"]))
                rows.append([f"{n:,}", label, f"{n / first['find_s']:,.0f}", f"{first['decodes'] / n:.1f}",
                             f"{first['pass_s'][0]:.1f}", f"{first['pass_s'][1]:.1f}", f"{first['peak_mib']:,.0f}",
                             f"{first['peak_mib'] - first['before_mib']:,.0f}",
                             f"{(first['peak_mib'] - first['before_mib']) * 1024 / n:.1f}",
                             f"{second['find_s']:.1f}", f"{second['find_s'] + second['pass_s'][0]:.1f}",
                             f"{second['decodes'] / n:.1f}"])
                print(" | ".join(rows[-1]), flush=True)
    headers = ["images", "code", "find_images img/s", "decodes per image", "first pass s", "later pass s",
               "peak RSS MiB", "RSS growth MiB", "RSS growth KiB/image", "2nd run: find_images s", "2nd run: to the end of the first pass s",
               "2nd run: decodes per image"]
    print(f"\n{machine_line()}\n")
    print(table(rows, headers))
    if len(args.sizes) > 1:
        print("\nPeak RSS per image, between the two largest folders:")
        for way, points in peaks.items():
            (n0, p0), (n1, p1) = points[-2:]
            print(f"- {WAYS[way]}: {(p1 - p0) * 1024 / (n1 - n0):.1f} KiB")


if __name__ == "__main__":
    main()
