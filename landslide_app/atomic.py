"""Atomic file output, output-directory checks and locks.

* :func:`atomic_path`: write to a temporary sibling, then ``os.replace`` it into place. A reader
  (or a rerun after a crash) sees either the old complete file or the new complete one, never a
  partial write. Temporary names are recognisable (:func:`is_temp_name`); a process killed
  mid-write leaves one behind, which :func:`remove_stale_temps` deletes on the next run.
* :func:`output_lock`: an exclusive ``fcntl.flock`` on ``DIR/.lock`` while a stage writes an
  artifact, so two processes building the same artifact take turns (the second one then finds
  it finished). The kernel drops the lock when its process dies, even on SIGKILL.
* :func:`check_output_dir`: an output directory must be a directory (or not exist yet);
  :func:`check_output_file`: an output file must not be an existing directory.
* :func:`check_not_input`: an output is never one of the inputs it is computed from.
* :func:`temp_target`: the final name of a temporary file (messages name that, not the temp).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from landslide_app.errors import OutputError

log = logging.getLogger(__name__)

#: Marker in the names of temporary files written by :func:`atomic_path`.
TEMP_MARKER = ".tmp-"
#: Suffix of the temporary files zarr writes (chunks are renamed into place).
ZARR_TEMP_SUFFIX = ".partial"
LOCK_NAME = ".lock"


@contextlib.contextmanager
def atomic_path(target: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    The temporary file keeps ``target``'s suffix (GDAL and OGR pick drivers by extension).
    On an exception the temporary file is removed and ``target`` is left untouched.
    """
    target = Path(target)
    if target.is_dir():
        raise OutputError(
            f"the output {target} is an existing directory; give the path of the file to write "
            f"(e.g. {target / ('output' + (suffix if suffix is not None else '.tif'))})"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}{TEMP_MARKER}",
        suffix=suffix if suffix is not None else target.suffix,
        dir=target.parent,
    )
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.unlink()  # writers (GDAL, OGR) want to create the file themselves
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_bytes_atomic(target: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically and return the path."""
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(target)


def write_json_atomic(target: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``target`` atomically."""
    return write_bytes_atomic(target, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())


def file_digest(path: str | Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(obj: Any) -> str:
    """A short stable hash of a JSON-serialisable object (artifact content addressing)."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def is_temp_name(name: str) -> bool:
    """True for the name of a temporary file of :func:`atomic_path` (or of a zarr chunk write)."""
    return (name.startswith(".") and TEMP_MARKER in name) or name.endswith(ZARR_TEMP_SUFFIX)


def temp_target(path: str | Path) -> Path:
    """The file a temporary file of :func:`atomic_path` stands for (``path`` itself otherwise)."""
    p = Path(path)
    if p.name.startswith(".") and TEMP_MARKER in p.name:
        return p.with_name(p.name[1:].split(TEMP_MARKER, 1)[0])
    return p


def find_temps(directory: str | Path, recursive: bool = True) -> list[Path]:
    """Temporary files (see :func:`is_temp_name`) under ``directory``."""
    d = Path(directory)
    if not d.is_dir():
        return []
    it = d.rglob("*") if recursive else d.iterdir()
    return sorted(p for p in it if is_temp_name(p.name) and p.is_file())


def remove_stale_temps(directory: str | Path, recursive: bool = True) -> int:
    """Delete temporary files left under ``directory`` by a killed writer; return how many.

    Call it only while holding :func:`output_lock` on ``directory``: then no live writer owns them.
    """
    n = 0
    for p in find_temps(directory, recursive):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            n += 1
    if n:
        log.info("removed %d temporary file(s) left in %s by an interrupted run", n, directory)
    return n


def check_output_dir(path: str | Path, what: str = "output directory", create: bool = True) -> Path:
    """Check that ``path`` can be (or is) a writable directory, and create it unless ``create`` is
    False (then nothing is written: check before long work, create when writing).

    Raises:
        OutputError: ``path`` is an existing file, or it (or its nearest existing parent) is not
            a writable directory.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"the {what} {path} is an existing file, not a directory; give a directory path")
    anchor = path
    while not anchor.exists() and anchor != anchor.parent:
        anchor = anchor.parent
    if not anchor.is_dir():
        raise OutputError(f"cannot create the {what} {path}: {anchor} is a file; choose another path")
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write the {what} {path}: {anchor} is not writable; choose a path you can write to")
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(
                f"cannot create the {what} {path} ({exc.strerror or exc}); choose a path you can write to"
            ) from exc
    return path


def check_output_file(path: str | Path, what: str = "output file", flag: str = "--out") -> Path:
    """Check that ``path`` can be written as a file: not an existing directory, its nearest
    existing parent a writable directory. Nothing is written.

    Raises:
        OutputError: naming ``flag`` and what to give instead.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(
            f"{flag} {path} is a directory; give the path of the file to write, e.g. {path / 'output.tif'}"
        )
    anchor = path.parent
    while not anchor.exists() and anchor != anchor.parent:
        anchor = anchor.parent
    if not anchor.is_dir():
        raise OutputError(f"cannot create the {what} {path}: {anchor} is a file; choose another path for {flag}")
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise OutputError(
            f"cannot write the {what} {path}: {anchor} is not writable; choose a path you can write to for {flag}"
        )
    return path


def check_not_input(output: str | Path, inputs: dict[str, str | Path | None], flag: str = "--out") -> None:
    """Refuse an ``output`` that is one of ``inputs`` (name -> path) or lies inside an input folder.

    Raises:
        OutputError: naming the output option and the input it would overwrite.
    """
    target = Path(os.path.abspath(output)).resolve(strict=False)
    for name, inp in inputs.items():
        if inp is None:
            continue
        src = Path(os.path.abspath(inp)).resolve(strict=False)
        if target == src or (src.is_dir() and src in target.parents):
            raise OutputError(
                f"{flag} {output} {'is' if target == src else 'lies inside'} the input {name} {inp}: "
                f"an output never overwrites its own input; give another {flag} path"
            )


@contextlib.contextmanager
def output_lock(directory: str | Path, what: str | None = None) -> Iterator[Path]:
    """Hold an exclusive lock on ``directory`` (file ``directory/.lock``) for the block.

    Blocks while another process (or thread) holds it. The directory is created. Without
    ``fcntl`` (Windows) no lock is taken; the atomic renames still keep every file whole.
    """
    d = check_output_dir(directory)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield d
        return
    fd = os.open(d / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another process writing %s", what or d)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield d
    finally:
        os.close(fd)  # closing the descriptor releases the lock
