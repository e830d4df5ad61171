"""Rules every ``landslide-app`` command follows for its inputs, outputs and numeric options.

One place, applied by :func:`landslide_app.cli.main` to every sub-command before it runs (so a
command added later gets them too):

* **Outputs never overwrite inputs.** ``--out`` (``--data`` of ``demo``) must not be one of the
  command's input paths, must not lie inside an input folder (a chip store, a run, a scene) and
  must not lie inside a chip store unless the command is the one that builds chip stores.
  An ``--out`` beside an input file (``scene/chips`` next to ``scene/catalog.json``) is fine.
  Inputs are every other path-valued option (and ``--source`` when it names a local catalog).
* **Output kinds.** A file output (``terrain``, ``embed``, or an ``--out`` ending in a file
  suffix) must not be an existing folder; a folder output must not be an existing file; the
  nearest existing parent must be a writable folder. Checked before any work.
* **Numeric options** are parsed with the bounded types here (:func:`int_in_range`,
  :func:`port`, :data:`MAX_EPOCHS`), the same for every command.
* **A refused command leaves nothing behind**: :class:`OutputGuard` removes a ``.lock`` (and an
  output folder) that the failed command itself created.
* **Ports**: :func:`check_port_free` refuses a port another program listens on, so the address
  printed is the address served.
* **Library warnings** (rasterio, pyogrio, matplotlib, ...) become one-line warnings of this tool
  (:func:`install_warning_handler`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from landslide_app.atomic import LOCK_NAME, check_output_dir, check_output_file
from landslide_app.core.vocabulary import DEFAULT_LR, MAX_ENSEMBLE, MAX_EPOCHS, MAX_LR, check_learning_rate
from landslide_app.errors import OutputError

log = logging.getLogger("landslide_app")

#: TCP ports a server may listen on.
MIN_PORT, MAX_PORT = 1, 65535
#: Commands whose ``--out`` is a file, not a folder.
FILE_OUTPUT_COMMANDS: frozenset[str] = frozenset({"terrain", "embed"})
#: Suffixes that mark an ``--out`` of another command as a file.
FILE_SUFFIXES: frozenset[str] = frozenset({".tif", ".tiff", ".gpkg", ".json", ".png", ".csv", ".md", ".zip"})
#: Commands whose output *is* a chip store.
STORE_BUILDERS: frozenset[str] = frozenset({"chips"})
#: Which option is the output, per command (default ``out``); ``app --data`` is an input.
OUTPUT_OPTION: dict[str, str] = {"demo": "data"}
#: Marker files of the folders that are inputs of other commands.
STORE_MARKER = "store.json"
#: Loggers of libraries whose records are shown only with ``--debug`` (errors still show).
QUIET_LIBRARIES: tuple[str, ...] = (
    "rasterio",
    "pyogrio",
    "fiona",
    "matplotlib",
    "PIL",
    "distributed",
    "numba",
    "urllib3",
)  # urllib3: the tool's own retries report what matters


# ---- numeric options -------------------------------------------------------------------------
def int_in_range(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``[lo, hi]`` (no upper bound when ``hi`` is None)."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if hi is None and v < lo:
            bound = "0 or positive" if lo == 0 else "positive" if lo == 1 else f">= {lo}"
            raise argparse.ArgumentTypeError(f"{v} must be {bound}")
        if hi is not None and not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{v} must be between {lo} and {hi}")
        return v

    parse.__name__ = "int"
    return parse


epochs = int_in_range(1, MAX_EPOCHS)
#: ``--ensemble K`` of ``ablate`` and ``train``: networks per fold (landslide_app.model.ensemble)
ensemble_size = int_in_range(1, MAX_ENSEMBLE)


def learning_rate(text: str) -> float:
    """An argparse ``type``: a learning rate in ``(0, MAX_LR]`` (``--lr`` of ``ablate`` and ``train``)."""
    try:
        return check_learning_rate(float(text))
    except ValueError:  # float() of a word; a ConfigError (out of range) is a ValueError too
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a learning rate: give a number in (0, {MAX_LR:g}], e.g. {DEFAULT_LR:g}"
        ) from None


learning_rate.__name__ = "learning rate"
port = int_in_range(MIN_PORT, MAX_PORT)


def check_port_free(p: int, host: str = "127.0.0.1") -> int:
    """Refuse a port that another program already listens on (the server would not be there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, p))
        except OSError as exc:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as free:
                free.bind((host, 0))
                suggestion = free.getsockname()[1]
            raise OutputError(
                f"port {p} on {host} is not available ({exc.strerror or exc}): another program uses it; "
                f"pass a free one, e.g. --port {suggestion}"
            ) from None
    return p


# ---- paths -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PathArg:
    """A path-valued option of a parsed command line."""

    dest: str
    flag: str
    path: Path


def option_flags(parser: argparse.ArgumentParser, command: str) -> dict[str, str]:
    """``dest -> option string`` (the longest; a positional's metavar) of one sub-command."""
    for action in parser._actions:  # noqa: SLF001 - argparse has no public walk of sub-parsers
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            sub = action.choices.get(command)
            if sub is None:
                return {}
            return {
                a.dest: (max(a.option_strings, key=len) if a.option_strings else (a.metavar or a.dest).upper())
                for a in sub._actions
            }  # noqa: SLF001
    return {}


def _path_args(a: argparse.Namespace, flags: dict[str, str]) -> list[PathArg]:
    out: list[PathArg] = []
    for dest, value in vars(a).items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if isinstance(v, Path):
                out.append(PathArg(dest, flags.get(dest, f"--{dest.replace('_', '-')}"), v))
            elif dest == "source" and isinstance(v, str) and "://" not in v and Path(v).exists():
                out.append(PathArg(dest, flags.get(dest, "--source"), Path(v)))
    return out


def _resolve(p: Path) -> Path:
    return Path(os.path.abspath(p.expanduser())).resolve(strict=False)


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def _enclosing_store(p: Path) -> Path | None:
    """The chip store folder ``p`` is, or lies in, if any."""
    for d in (p, *p.parents):
        if (d / STORE_MARKER).is_file() and (d / "chips.zarr").exists():
            return d
    return None


def input_folders(path: Path) -> list[Path]:
    """Folders an input occupies: a folder input (chip store, run, data folder) itself. A file
    input (a DEM, a catalog.json) occupies only itself: writing beside it is allowed."""
    return [path] if path.is_dir() else []


def check_command_paths(command: str, a: argparse.Namespace, flags: dict[str, str]) -> PathArg | None:
    """Apply the output rules to a parsed command line; return the output (or None).

    Raises:
        OutputError: the output is an input, lies inside an input folder or a chip store, or is
            of the wrong kind (file / folder) or not writable.
    """
    out_dest = OUTPUT_OPTION.get(command, "out")
    args = _path_args(a, flags)
    outputs = [p for p in args if p.dest == out_dest]
    if command == "app" or not outputs:
        return None
    out = outputs[0]
    target = _resolve(out.path)
    for inp in args:
        if inp.dest == out_dest:
            continue
        src = _resolve(inp.path)
        if target == src:
            raise OutputError(
                f"{out.flag} {out.path} is also the input {inp.flag} {inp.path}: a command never writes over its "
                f"own input; give another {out.flag} path"
            )
        for folder in input_folders(src):
            if _inside(target, folder):
                raise OutputError(
                    f"{out.flag} {out.path} lies inside the input {inp.flag} {inp.path}: a command never writes "
                    f"into its own input; give an {out.flag} path outside it"
                )
    store = _enclosing_store(target)
    if store is not None and not (command in STORE_BUILDERS and store == target):
        raise OutputError(
            f"{out.flag} {out.path} {'is' if store == target else 'lies inside'} the chip store {store}; "
            f"`{command}` would write into it. Give a new folder outside the store for {out.flag}"
        )
    is_file = command in FILE_OUTPUT_COMMANDS or (
        out_dest == "out" and target.suffix.lower() in FILE_SUFFIXES and not target.is_dir()
    )
    what = f"{out.flag} {'file' if is_file else 'directory'}"
    if is_file:
        check_output_file(out.path, what, flag=out.flag)
    else:
        check_output_dir(out.path, what, create=False)
    return out


@dataclass
class OutputGuard:
    """Remembers the folders and ``.lock`` files under an output before a command runs, so a
    failed command can remove the locks and (then empty) folders it created there, and nothing
    else (work it finished is kept for the rerun)."""

    path: Path | None
    existed: bool = False
    entries: frozenset[Path] = frozenset()

    @classmethod
    def before(cls, out: PathArg | None) -> OutputGuard:
        if out is None:
            return cls(None)
        p = out.path
        return cls(p, p.exists(), frozenset(_dirs_and_locks(p)))

    def cleanup_after_failure(self) -> None:
        """Remove new ``.lock`` files (when no process holds them), then new empty folders."""
        p = self.path
        if p is None or not p.is_dir():
            return
        new = [e for e in _dirs_and_locks(p) if e not in self.entries]
        for lock in (e for e in new if e.name == LOCK_NAME):
            if _lock_is_free(lock):
                with contextlib.suppress(OSError):
                    lock.unlink()
        folders = [e for e in new if e.name != LOCK_NAME]
        if not self.existed:
            folders.append(p)
        for d in sorted(folders, key=lambda q: len(q.parts), reverse=True):
            with contextlib.suppress(OSError):
                d.rmdir()  # only when empty


def _dirs_and_locks(root: Path) -> list[Path]:
    """Folders (``root`` excluded) and ``.lock`` files under ``root``."""
    found: list[Path] = []
    if not root.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        found.extend(here / d for d in dirnames)
        if LOCK_NAME in filenames:
            found.append(here / LOCK_NAME)
    return found


def _lock_is_free(lock: Path) -> bool:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return True
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


# ---- warnings --------------------------------------------------------------------------------
def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    text = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
    module = Path(str(filename)).parts
    lib = next(
        (
            part
            for part in module
            if part not in ("site-packages",)
            and part.isidentifier()
            and part
            in QUIET_LIBRARIES
            + (
                "stackstac",
                "xarray",
                "zarr",
                "geopandas",
                "shapely",
                "torch",
                "sklearn",
                "numpy",
                "pandas",
                "dask",
                "pyproj",
            )
        ),
        None,
    )
    log.warning("%s%s", text, f" ({lib})" if lib else "")


def install_warning_handler(debug: bool) -> None:
    """Library warnings become one ``WARNING`` line each (once per message); with ``debug`` the
    libraries' own logs are shown too."""
    if debug:
        return
    warnings.simplefilter("default")  # once per location, not once per call
    warnings.showwarning = _one_line_warning
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.ERROR)
