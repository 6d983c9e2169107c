"""The image cache: a folder's decoded images kept as uint8, in memory or on disk, and reused by later runs.

Each image is one row of ``image_size × image_size × 3`` bytes (12 KiB at 64×64), a quarter of
float32; the pipeline converts a batch at a time to float32. A folder's rows live in a file,
``images.bin``, in one sub-folder of the cache folder per data folder and image size, with
``manifest.json`` beside it. The manifest holds

- the key: a hash of the image files (their paths, sizes and modification and change times), the
  image size, this file layout and the decoder's version (see ``version`` below);
- the skipped files with their reasons, so a later run reports them without decoding them again;
- the number of rows and a CRC-32 of ``images.bin``.

The rows are written to a temporary file that is renamed when complete, and the manifest is
written after it: an interrupted build leaves no manifest, so it is never trusted. A cache
whose key or checksum does not match, or whose file has the wrong size, is rebuilt.

Where it lives: ``$VAE_TUTORIAL_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/vae-tutorial``, else
``~/.cache/vae-tutorial``. The user's cache folder rather than the run folder, so that ``train``,
``reconstruct`` and a notebook on the same folder share one cache and a run started again with
``--overwrite`` keeps it. Deleting the cache folder, or any sub-folder of it, is always safe.

Folders whose images fit in the memory budget (:data:`DEFAULT_MEMORY_BUDGET` unless given) are
held in memory; a larger folder's images are read from the file a batch at a time, so memory
does not grow with the folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import numbers
import os
import re
import shutil
import threading
import warnings
import weakref
import zlib
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

FORMAT = 1  # the layout of images.bin and manifest.json


CACHE_DIR_ENV = "VAE_TUTORIAL_CACHE_DIR"


DEFAULT_MEMORY_BUDGET = 2 * 1024**3  # bytes of decoded images held in memory: 174,762 images of 64×64


DATA, MANIFEST, LOCK = "images.bin", "manifest.json", "lock"


_CHUNK = 64 * 1024**2  # bytes written or checked at a time


Decoded = tuple[np.ndarray | None, str | None]  # (the uint8 image, None) or (None, why the file is skipped)


class CacheError(OSError):
    """The cache cannot be written where it must be; the message is one line for the user."""


def default_cache_dir() -> Path:
    """``$VAE_TUTORIAL_CACHE_DIR``, else ``$XDG_CACHE_HOME/vae-tutorial``, else ``~/.cache/vae-tutorial``."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "vae-tutorial"
    return Path.home() / ".cache" / "vae-tutorial"


def format_bytes(n: int) -> str:
    """``n`` bytes in binary units, for example ``'46.5 MiB'``."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


_live: dict[str, weakref.ref] = {}  # cache sub-folder → the newest store opened on it, while it is alive


class ImageStore:
    """Decoded images: one uint8 row (image_size, image_size, 3) per path of ``paths``, in that order.

    Held in memory (``array``), or else read from the cache file ``location`` a few rows at a time.
    ``location`` is None where the cache could not be written; ``key`` is the cache's key (see
    :func:`load_or_build`).
    """

    def __init__(self, name: str, key: str, paths: Sequence, image_size: int, array: np.ndarray | None = None,
                 location: Path | None = None):
        self.key = key
        self.paths = list(paths)
        self.image_size = image_size
        self.location = location
        self._array = array
        self._index: dict[str, int] | None = None
        if array is None:
            self._file = open(location, "rb", buffering=0)
            self._lock = threading.Lock()  # seek and read in one step, from any tf.data thread
            weakref.finalize(self, self._file.close)
        _live.pop(name, None)
        _live[name] = weakref.ref(self)

    @property
    def row_bytes(self) -> int:
        return self.image_size * self.image_size * 3

    @property
    def nbytes(self) -> int:
        return len(self.paths) * self.row_bytes

    @property
    def in_memory(self) -> bool:
        return self._array is not None

    def rows_of(self, paths: Sequence) -> np.ndarray | None:
        """The row of each of ``paths`` (int64), or None if any of them is not in this store."""
        if self._index is None:
            self._index = {os.fspath(p): i for i, p in enumerate(self.paths)}
        rows = [self._index.get(os.fspath(p)) for p in paths]
        return None if None in rows else np.asarray(rows, dtype=np.int64)

    def read(self, rows: Sequence[int]) -> np.ndarray:
        """The images of ``rows``: uint8 (len(rows), image_size, image_size, 3)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self._array is not None:
            return self._array[rows]
        out = np.empty((len(rows), self.image_size, self.image_size, 3), np.uint8)
        with self._lock:
            for image, row in zip(out, rows):
                self._file.seek(int(row) * self.row_bytes)
                if self._file.readinto(image.reshape(-1)) != self.row_bytes:
                    raise OSError(f"the image cache {self.location} was cut short while it was read")
        return out


def find_store(paths: Sequence, image_size: int) -> tuple[ImageStore, np.ndarray] | None:
    """A live store (the newest first) holding every one of ``paths`` at ``image_size``, and their rows."""
    for name in reversed(list(_live)):
        store = _live[name]()
        if store is None:
            del _live[name]
        elif store.image_size == image_size:
            rows = store.rows_of(paths)
            if rows is not None:
                return store, rows
    return None


def load_or_build(
    directory: str | os.PathLike,
    files: Sequence[Path],
    image_size: int,
    decode: Callable[[], Iterator[Decoded]],
    version: str,
    cache_dir: str | os.PathLike | None = None,
    memory_budget: int | None = None,
    rebuild: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    part: str = "",
) -> tuple[ImageStore, list[tuple[Path, str]]]:
    """The decoded images of ``files`` (image files under ``directory``) and the files skipped, with reasons.

    Reuses the cache when its key matches ``files`` and its checksum its contents; otherwise calls
    ``decode()`` for a generator of one :data:`Decoded` per file, in order, and writes a new cache.
    ``version`` names the decoder (change it when decoded images would change). ``part`` tells apart
    several caches of one folder (for example one per worker). ``log`` receives one-line notes (where
    the cache is, its size, whether it is reused); a note that the cache could not be kept goes to
    ``log`` or, without one, to :func:`warnings.warn`.

    Raises :class:`CacheError` when images beyond ``memory_budget`` (bytes; default
    :data:`DEFAULT_MEMORY_BUDGET`) cannot be written to the cache folder: not writable, or too little
    free space.
    """
    budget = DEFAULT_MEMORY_BUDGET if memory_budget is None else memory_budget
    if not isinstance(budget, numbers.Integral) or budget < 0:
        raise ValueError(f"Argument `memory_budget` must be a non-negative number of bytes. Received: "
                         f"memory_budget={memory_budget!r}")
    entry = _Entry(Path(directory), files, image_size, version, Path(cache_dir or default_cache_dir()), part)
    with entry.locked():
        found = None if rebuild else entry.open(budget, progress)
        if found is not None:
            store, _ = found
            where = "held in memory" if store.in_memory else "read from disk: more than the memory budget " \
                f"of {format_bytes(budget)}"
            if log:
                log(f"reusing the decoded images cached in {entry.folder} ({len(store.paths):,} images, "
                    f"{format_bytes(store.nbytes)}, {where})")
            return found
        return entry.build(decode, budget, log)


class _Entry:
    """One cache: the sub-folder of the cache folder for one data folder, image size and part."""

    def __init__(self, directory: Path, files: Sequence[Path], image_size: int, version: str, cache_dir: Path,
                 part: str):
        self.files = list(files)
        self.image_size = image_size
        self.row_bytes = image_size * image_size * 3
        resolved = directory.resolve()
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", "_".join(resolved.parts[-2:]))[-40:].strip("_") or "folder"
        name = hashlib.sha256(f"{resolved}\0{image_size}\0{part}".encode("utf-8", "surrogateescape")).hexdigest()
        self.folder = cache_dir / f"{slug}-{image_size}px-{name[:16]}"
        prefix = os.path.join(os.fspath(directory), "")
        self.names = [os.fspath(p)[len(prefix):] if os.fspath(p).startswith(prefix)
                      else os.path.relpath(p, directory) for p in self.files]
        self.key = self._key(version)

    def _key(self, version: str) -> str:
        digest = hashlib.sha256(f"{FORMAT}\0{self.image_size}\0{version}\n".encode())
        for path, name in zip(self.files, self.names):
            try:
                st = os.stat(path)
                stamp = f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns}"  # ctime: a chmod changes it
            except OSError as exc:
                stamp = f"error {exc.errno}"
            digest.update(f"{name}\0{stamp}\n".encode("utf-8", "surrogateescape"))
        return digest.hexdigest()

    @contextlib.contextmanager
    def locked(self):
        """Hold this cache's lock file (where the system has ``fcntl``): one process builds, the others
        wait and then reuse what it built. Without a writable cache folder there is nothing to lock."""
        lock = None
        try:
            import fcntl

            self.folder.mkdir(parents=True, exist_ok=True)
            lock = open(self.folder / LOCK, "a")
        except (ImportError, OSError):
            pass
        if lock is None:
            yield
            return
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
            yield

    # -- reading ------------------------------------------------------------------------

    def open(self, budget: int, progress: bool) -> tuple[ImageStore, list[tuple[Path, str]]] | None:
        """The cached images and skipped files, or None when there is no complete cache for these files."""
        try:
            manifest = json.loads((self.folder / MANIFEST).read_text(encoding="utf-8"))
            if manifest["format"] != FORMAT or manifest["key"] != self.key:
                return None
            count, crc, reasons = int(manifest["count"]), int(manifest["crc32"]), dict(manifest["skipped"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        usable = [path for path, name in zip(self.files, self.names) if name not in reasons]
        skipped = [(path, reasons[name]) for path, name in zip(self.files, self.names) if name in reasons]
        in_memory = count * self.row_bytes <= budget
        live = _live.get(str(self.folder))
        live = live() if live is not None else None
        if live is not None and live.key == self.key and live.in_memory == in_memory and len(usable) == count:
            return live, skipped  # already read by this process (and kept by TensorFlow's graph once piped)
        data = self.folder / DATA
        try:
            if len(usable) != count or data.stat().st_size != count * self.row_bytes:
                return None
            array = np.empty((count, self.image_size, self.image_size, 3), np.uint8) if in_memory else None
            if self._crc32(data, array, progress) != crc:
                return None
        except OSError:
            return None
        return ImageStore(str(self.folder), self.key, usable, self.image_size, array, data), skipped

    def _crc32(self, data: Path, into: np.ndarray | None, progress: bool) -> int:
        """The CRC-32 of ``data``, read in chunks into ``into`` (its rows) when given."""
        size, crc = data.stat().st_size, 0
        target = into.reshape(-1) if into is not None else np.empty(_CHUNK, np.uint8)
        bar = _progress_bar(size, "Checking the image cache") if progress and size > _CHUNK else None
        with open(data, "rb", buffering=0) as f:
            for start in range(0, size, _CHUNK):
                length = min(_CHUNK, size - start)
                view = target[start:start + length] if into is not None else target[:length]
                if f.readinto(view) != length:
                    raise OSError("short read")
                crc = zlib.crc32(view, crc)
                if bar:
                    bar.update(length)
        if bar:
            bar.close()
        return crc

    # -- writing ------------------------------------------------------------------------

    def build(self, decode: Callable[[], Iterator[Decoded]], budget: int,
              log: Callable[[str], None] | None) -> tuple[ImageStore, list[tuple[Path, str]]]:
        """Decode every file once; keep the rows in memory (within ``budget``) and write them to the cache."""
        need = len(self.files) * self.row_bytes  # at most: skipped files take no row
        in_memory = need <= budget
        writer = self._start(need, in_memory, log)
        if writer is not None and log:
            where = "held in memory" if in_memory else \
                f"read from disk: more than the memory budget of {format_bytes(budget)}"
            log(f"decoding {len(self.files):,} files into a cache of up to {format_bytes(need)} in {self.folder} "
                f"({where})")
        array = np.empty((len(self.files), self.image_size, self.image_size, 3), np.uint8) if in_memory else None
        usable, skipped, reasons = [], [], []
        try:
            with contextlib.closing(decode()) as results:
                for path, name, (image, reason) in zip(self.files, self.names, results):
                    if image is None:
                        skipped.append((path, reason))
                        reasons.append([name, reason])
                        continue
                    if array is not None:
                        array[len(usable)] = image
                    if writer is not None:
                        writer = self._try(writer, in_memory, log, writer.add, image)
                    usable.append(path)
            if writer is not None:
                writer = self._try(writer, in_memory, log, self._publish, writer, len(usable), reasons)
        except BaseException:  # Ctrl-C included: no half-written file is left to trust
            if writer is not None:
                writer.discard()
            raise
        location = self.folder / DATA if writer is not None else None
        if array is not None:
            array = array[:len(usable)]
        return ImageStore(str(self.folder), self.key, usable, self.image_size, array, location), skipped

    def _start(self, need: int, in_memory: bool, log) -> _Writer | None:
        """A writer of the rows into a temporary file, after removing the old cache (its manifest first).

        None, after a note, where the rows are held in memory and the cache cannot be written;
        :class:`CacheError` where they are not held in memory."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for name in [MANIFEST, DATA] + [p.name for p in self.folder.glob("*.tmp")]:  # we hold the lock
                (self.folder / name).unlink(missing_ok=True)
            free = shutil.disk_usage(self.folder).free
            if free < need:
                raise _NoSpace(f"not enough disk space for the image cache: it needs {format_bytes(need)} in "
                               f"{self.folder.parent}, which has {format_bytes(free)} free")
            return _Writer(self.folder / f"{DATA}.{os.getpid()}.tmp", self.row_bytes)
        except OSError as exc:
            return self._cannot_write(exc, in_memory, log)

    def _try(self, writer: _Writer, in_memory: bool, log, action, *args) -> _Writer | None:
        """``action(*args)``; the writer, or None after a note where the cache cannot be written."""
        try:
            action(*args)
            return writer
        except OSError as exc:
            writer.discard()
            return self._cannot_write(exc, in_memory, log)

    def _publish(self, writer: _Writer, count: int, reasons: list[list[str]]) -> None:
        """Rename the rows into place, then write the manifest (last: it marks the cache complete)."""
        crc = writer.close()
        os.replace(writer.path, self.folder / DATA)
        manifest = {"format": FORMAT, "key": self.key, "image_size": self.image_size, "count": count,
                    "crc32": crc, "skipped": reasons}
        temporary = self.folder / f"{MANIFEST}.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(manifest), encoding="utf-8")
        os.replace(temporary, self.folder / MANIFEST)

    def _cannot_write(self, exc: OSError, in_memory: bool, log) -> None:
        reason = str(exc) if isinstance(exc, _NoSpace) else \
            f"cannot write the image cache in {self.folder.parent}: {exc.strerror or exc}"
        if not in_memory:
            raise CacheError(f"{reason}; choose another cache folder (--cache-dir or ${CACHE_DIR_ENV})") from None
        message = f"{reason}; the decoded images are held in memory only, and the next run decodes them again"
        log(message) if log else warnings.warn(message, stacklevel=2)
        return None


class _NoSpace(OSError):
    """Too little free space for the cache file (raised before writing it)."""


class _Writer:
    """Appends uint8 rows to a temporary file a chunk at a time, keeping their CRC-32."""

    def __init__(self, path: Path, row_bytes: int):
        self.path = path
        self.crc = 0
        self._file = open(path, "wb")
        self._buffer = np.empty((max(1, _CHUNK // row_bytes), row_bytes), np.uint8)
        self._filled = 0

    def add(self, image: np.ndarray) -> None:
        self._buffer[self._filled] = image.reshape(-1)
        self._filled += 1
        if self._filled == len(self._buffer):
            self._flush()

    def _flush(self) -> None:
        rows = self._buffer[:self._filled]
        self._file.write(rows)
        self.crc = zlib.crc32(rows, self.crc)
        self._filled = 0

    def close(self) -> int:
        """Write what is left and close; returns the CRC-32 of everything written."""
        self._flush()
        self._file.close()
        return self.crc

    def discard(self) -> None:
        """Close and remove the temporary file (an interrupted or failed build)."""
        self._file.close()
        self.path.unlink(missing_ok=True)


def _progress_bar(total: int, description: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="B", unit_scale=True, leave=False)
