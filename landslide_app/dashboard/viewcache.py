"""A read-only cache of the dashboard's computed views on disk, shared by every kernel process.

Each browser session has its own kernel (Voila), so a cache in a kernel's memory serves one
session only. :class:`SharedViewCache` keeps what the page computes from a workspace's artifacts
(overlay images with their bounds, class and probability arrays) as files in one folder per
workspace, so the second and later sessions read them instead of computing them again: arrays are
``.npy`` files opened memory-mapped read-only (their pages are the kernel's page cache, mapped by
every session, not a private copy), images are PNG files.

Location (:func:`cache_folder`): ``WORKSPACE/.dashboard-cache/``; where the workspace is not
writable, or is itself a chip store or a trained run (a folder made by ``chips`` or ``train``),
``$XDG_CACHE_HOME/landslide_app/views/<name>-<hash of the workspace path>/`` (default
``~/.cache``). The environment variable ``LANDSLIDE_APP_VIEW_CACHE`` overrides it: ``off``
disables the cache (every kernel computes its own views, as before), any other value is a folder
under which each workspace gets its hashed subfolder. Deleting the folder is always safe.

Entries and invalidation: an entry is named ``KIND-NAME-KEY``; ``KEY`` hashes the kind, the
caller's parameters, :data:`FORMAT` and the size and modification time (ns) of every source file
the view is computed from, so a new run, a rerun or a new prediction (new files) gives a new key,
and the stale entries of the same ``KIND-NAME`` are deleted when the new one is written. An entry
is ``KEY.json`` (metadata and the list of its files with their sizes), written last, plus one file
per array (``.npy``) and per blob (e.g. ``.png``); every file is written atomically
(:func:`landslide_app.atomic.write_bytes_atomic`). Concurrent first writers take turns on a
per-entry ``fcntl`` lock, so the later ones find the entry built. An entry whose files are
missing, truncated or unreadable is logged and rebuilt, never an error in the page.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from landslide_app.atomic import write_bytes_atomic

log = logging.getLogger(__name__)

#: Environment variable: ``off`` disables the shared cache; any other value is its base folder.
ENV = "LANDSLIDE_APP_VIEW_CACHE"
#: The cache folder inside a workspace.
FOLDER_NAME = ".dashboard-cache"
#: A workspace that is itself a chip store or a trained run gets its cache in the user cache folder.
ARTIFACT_MARKS = ("store.json", "run.json")
#: Bumped when what an entry holds changes (old entries then no longer match).
FORMAT = 1


@dataclass
class CachedView:
    """One entry: JSON-able ``meta``, numpy ``arrays`` (read-only memory maps when read back) and
    byte ``blobs`` keyed by file name suffix (``{"pre.png": b"..."}``)."""

    meta: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)


class DamagedEntryError(Exception):
    """An entry on disk that cannot be read back (rebuilt by :meth:`SharedViewCache.get`)."""


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}-{threading.get_ident()}"
        probe.write_bytes(b"")
        probe.unlink()
        return True
    except OSError:
        return False


def _user_cache_base() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "landslide_app" / "views"


def _hashed(base: Path, workspace: Path) -> Path:
    h = hashlib.sha256(str(workspace.resolve()).encode()).hexdigest()[:16]
    return base / f"{workspace.name or 'root'}-{h}"


def cache_folder(workspace: Path, inside: bool = True) -> Path | None:
    """Where the views of ``workspace`` are cached (see the module docstring); None: disabled.
    ``inside`` False: never in the folder itself (a folder that is not a workspace)."""
    setting = os.environ.get(ENV, "").strip()
    if setting.lower() in ("off", "0", "no", "false"):
        return None
    if setting:
        return _hashed(Path(setting), workspace)
    here = workspace / FOLDER_NAME
    artifact = any((workspace / m).exists() for m in ARTIFACT_MARKS)  # never write inside a store or run
    if inside and not artifact and workspace.is_dir() and _writable(here):
        return here
    return _hashed(_user_cache_base(), workspace)


def workspace_of(path: Path) -> Path | None:
    """The workspace holding ``path``: the nearest folder above it with ``workspace.json``."""
    p = Path(os.path.abspath(path))  # a linked scene folder still belongs to the workspace linking it
    return next((d for d in p.parents if (d / "workspace.json").exists()), None)


def cache_near(path: Path) -> SharedViewCache:
    """The cache for views of the file ``path``: its workspace's, else one in the user cache
    folder for ``path``'s folder (nothing is written beside a file outside a workspace)."""
    ws = workspace_of(path)
    return shared_cache(ws) if ws is not None else shared_cache(Path(path).parent, inside=False)


def _stamp(path: Path) -> list[Any]:
    try:
        st = Path(path).stat()
        return [str(path), st.st_size, st.st_mtime_ns]
    except OSError:
        return [str(path), None, None]


def _npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


class SharedViewCache:
    """The on-disk view cache of one workspace (``folder`` None: nothing is stored, every
    :meth:`get` builds). Thread-safe; safe across processes."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.hits = self.builds = self.rebuilds = 0
        self._memo: dict[str, CachedView] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_workspace(cls, workspace: Path) -> SharedViewCache:
        """The cache of ``workspace`` (one object per folder and process: see :func:`shared_cache`)."""
        return shared_cache(workspace)

    @property
    def enabled(self) -> bool:
        return self.folder is not None

    def key(self, kind: str, sources: Sequence[Path], params: Any = None) -> str:
        blob = json.dumps([FORMAT, kind, params, [_stamp(p) for p in sources]], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    def get(
        self,
        kind: str,
        name: str,
        sources: Sequence[Path],
        build: Callable[[], CachedView],
        params: Any = None,
    ) -> CachedView:
        """The entry ``kind``/``name`` for the current state of ``sources`` (built by ``build``
        when missing, stale or damaged). ``params``: JSON-able settings the view depends on."""
        key = self.key(kind, sources, params)
        stem = f"{kind}-{_safe(name)}-{key}"
        with self._lock:
            hit = self._memo.get(stem)
        if hit is not None:
            self.hits += 1
            return hit
        if self.folder is None:
            view = build()
            self.builds += 1
            with self._lock:
                self._memo[stem] = view
            return view
        view = self._read_or_build(stem, f"{kind}-{_safe(name)}-", build)
        with self._lock:
            self._memo = {k: v for k, v in self._memo.items() if not k.startswith(f"{kind}-{_safe(name)}-")}
            self._memo[stem] = view
        return view

    # ---- disk -------------------------------------------------------------------------------
    def _read_or_build(self, stem: str, family: str, build: Callable[[], CachedView]) -> CachedView:
        assert self.folder is not None
        try:
            return self._read_counted(stem)
        except FileNotFoundError:
            pass
        except DamagedEntryError as exc:
            log.warning("view cache entry %s is damaged (%s): rebuilding it", self.folder / stem, exc)
            self.rebuilds += 1
        with self._entry_lock(stem):
            try:  # another process may have built it while we waited
                return self._read_counted(stem)
            except (FileNotFoundError, DamagedEntryError):
                pass
            view = build()
            self.builds += 1
            try:
                self._write(stem, view)
                self._prune(family, keep=stem)
                return self._read(stem)  # the memory-mapped copy: the build's arrays are freed
            except (OSError, DamagedEntryError) as exc:
                log.warning("could not store the view %s in %s: %s", stem, self.folder, exc)
                return view

    def _read_counted(self, stem: str) -> CachedView:
        view = self._read(stem)
        self.hits += 1
        return view

    def _read(self, stem: str) -> CachedView:
        assert self.folder is not None
        head = self.folder / f"{stem}.json"
        try:
            doc = json.loads(head.read_text())
            files = dict(doc["files"])
            meta = dict(doc["meta"])
        except FileNotFoundError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DamagedEntryError(f"unreadable {head.name}: {exc}") from exc
        view = CachedView(meta=meta)
        for fname, (size, crc) in files.items():
            f = self.folder / f"{stem}.{fname}"
            try:
                if f.stat().st_size != size:
                    raise DamagedEntryError(f"{f.name} has {f.stat().st_size} bytes, {size} expected")
                if fname.endswith(".npy"):
                    view.arrays[fname[: -len(".npy")]] = np.load(f, mmap_mode="r", allow_pickle=False)
                else:
                    data = f.read_bytes()
                    if zlib.crc32(data) != crc:
                        raise DamagedEntryError(f"{f.name} does not match its checksum")
                    view.blobs[fname] = data
            except FileNotFoundError as exc:
                raise DamagedEntryError(f"{f.name} is missing") from exc
            except (OSError, ValueError) as exc:
                raise DamagedEntryError(f"{f.name}: {exc}") from exc
        return view

    def _write(self, stem: str, view: CachedView) -> None:
        assert self.folder is not None
        files: dict[str, tuple[int, int | None]] = {}
        for name, arr in view.arrays.items():
            data = _npy_bytes(arr)
            write_bytes_atomic(self.folder / f"{stem}.{name}.npy", data)
            files[f"{name}.npy"] = (len(data), None)  # mapped, not read: the size is checked
        for fname, data in view.blobs.items():
            write_bytes_atomic(self.folder / f"{stem}.{fname}", data)
            files[fname] = (len(data), zlib.crc32(data))
        doc = json.dumps({"format": FORMAT, "meta": view.meta, "files": files}, default=_jsonable)
        write_bytes_atomic(self.folder / f"{stem}.json", doc.encode())  # last: marks the entry complete

    def _prune(self, family: str, keep: str) -> None:
        """Delete the older entries of ``family`` (a kernel that mapped one keeps its pages)."""
        assert self.folder is not None
        for f in self.folder.glob(f"{family}*"):
            if not f.name.startswith(keep):
                with contextlib.suppress(OSError):
                    f.unlink()

    @contextlib.contextmanager
    def _entry_lock(self, stem: str) -> Iterator[None]:
        assert self.folder is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: atomic renames still keep files whole
            yield
            return
        fd = os.open(self.folder / f"{stem}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:  # the lock file stays (unlinking it would let a third process lock a new inode)
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"{type(x).__name__} is not JSON-able")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._" else "_" for c in name)[:80] or "view"


def shared_overlays(
    workspace: Path, kind: str, sources: Sequence[Path], build: Callable[[], Sequence[dict[str, Any]]]
) -> tuple[dict[str, Any], ...]:
    """Image overlays ``{"url": PNG data URL, ...JSON-able}`` (e.g. the SAR before/after pair)
    through the shared cache of ``workspace``: the PNGs and the other fields are stored, the data
    URLs rebuilt on reading."""
    import base64

    head = "data:image/png;base64,"

    def to_entry() -> CachedView:
        items = list(build())
        blobs = {f"{k}.png": base64.b64decode(d["url"][len(head) :]) for k, d in enumerate(items)}
        return CachedView(meta={"items": [{**d, "url": None} for d in items]}, blobs=blobs)

    v = shared_cache(workspace).get("overlays", kind, sources, to_entry)
    out = []
    for k, d in enumerate(v.meta["items"]):
        item = {**d, "url": head + base64.b64encode(v.blobs[f"{k}.png"]).decode()}
        for name in ("bounds", "range_db"):  # JSON gave lists; callers unpack pairs
            if isinstance(item.get(name), list):
                item[name] = tuple(tuple(x) if isinstance(x, list) else x for x in item[name])
        out.append(item)
    return tuple(out)


_CACHES: dict[tuple[str, str | None], SharedViewCache] = {}
_CACHES_LOCK = threading.Lock()


def shared_cache(workspace: Path, inside: bool = True) -> SharedViewCache:
    """The process's :class:`SharedViewCache` of ``workspace`` (one per folder and setting)."""
    ws = Path(workspace).resolve()
    folder = cache_folder(ws, inside)
    k = (str(ws), None if folder is None else str(folder))
    with _CACHES_LOCK:
        if k not in _CACHES:
            _CACHES[k] = SharedViewCache(folder)
            log.debug("view cache of %s: %s", ws, folder or "off")
        return _CACHES[k]
