"""Workspaces: one folder per area and event, described by a small ``workspace.json``.

A *workspace* is a folder holding the work on one area and one event: chip stores (labelled or
not), trained runs (``train``), ablation outputs (``ablate``), predictions (``predict`` /
``respond``). ``workspace.json`` names the area and the event and lists what the folder holds;
``demo``, ``respond`` and the dashboard write it, and every reader also *discovers* what the CLI
left in the folder without one (:func:`discover`), so a folder made only with ``chips``, ``train``,
``ablate`` or ``predict`` opens as a workspace too (design: docs/design.md, "dashboard").

The format (``"format": "landslide-app-workspace/1"``)::

    {"format": ..., "name": "Puerto Rico",
     "area": {"bbox_lonlat": [W, S, E, N], "crs": "EPSG:32619"},
     "event": {"date": "2017-09-20", "dates": [...], "acquisitions": [...]},
     "sources": [{"kind": "sar+dem", "description": "planetary-computer"}],
     "stores": [{"path": "chips", "labelled": false, "n_chips": 44, "fingerprint": "..."}],
     "runs": [{"path": "model", "name": "fused-r3", "fingerprint": "..."}],
     "ablations": [{"path": "ablation"}],
     "predictions": [{"path": ".", "store": "chips", "run": "fused-r3", "summary": "summary.json", ...}],
     "code_version": "..."}

Paths are relative to the workspace folder when inside it. This module holds no widget and runs
nothing: it reads and writes the description (atomically) and finds artifacts on disk.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landslide_app import __version__
from landslide_app.atomic import write_json_atomic
from landslide_app.errors import ConfigError, InputError

log = logging.getLogger(__name__)

WORKSPACE_FILE = "workspace.json"
WORKSPACE_FORMAT = "landslide-app-workspace/1"
#: Files that mark an artifact folder (the chip store's metadata, a trained run, a prediction, an ablation).
STORE_MARK, RUN_MARK, PREDICTION_MARK = "store.json", "run.json", "summary.json"
ABLATION_MARKS = ("results.json", "runs")
#: How deep :func:`discover` looks for artifacts under a workspace folder.
DISCOVER_DEPTH = 3
#: Folders never entered while discovering (inside chip stores, ablation runs, caches).
_SKIP = {"array", "done", "runs", "baselines", "__pycache__", ".git", "exports", "scene"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve())) or "."
    except ValueError:
        return str(path.resolve())


def _read_json(f: Path) -> dict[str, Any] | None:
    try:
        d = json.loads(f.read_text())
    except (OSError, ValueError):
        log.warning("ignoring unreadable %s", f)
        return None
    return d if isinstance(d, dict) else None


@dataclass
class Workspace:
    """The description of one workspace folder (see module docstring).

    ``stores``, ``runs``, ``ablations`` and ``predictions`` are lists of JSON objects whose
    ``path`` is relative to :attr:`root` (or absolute when elsewhere); :meth:`path` resolves one.
    """

    root: Path
    name: str = ""
    area: dict[str, Any] = field(default_factory=dict)
    event: dict[str, Any] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    stores: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    ablations: list[dict[str, Any]] = field(default_factory=list)
    predictions: list[dict[str, Any]] = field(default_factory=list)

    # ---- reading and writing ----------------------------------------------------------------
    @classmethod
    def load(cls, root: str | Path, discover_artifacts: bool = True) -> Workspace:
        """The workspace at ``root``: its ``workspace.json`` (when present) merged with what
        :func:`discover` finds there; area and event default to the first chip store's."""
        root = Path(root).resolve()
        if not root.is_dir():
            raise InputError(
                f"{root} is not a folder: give a workspace folder (made by `landslide-app demo`, "
                "`respond`, `chips`/`train`, or the dashboard's New workspace)"
            )
        ws = cls(root, name=root.name)
        f = root / WORKSPACE_FILE
        if f.exists():
            d = _read_json(f)
            if d is None:
                raise InputError(
                    f"{f} is damaged (not a JSON object); delete it and reopen the folder "
                    "(its artifacts are found again)"
                )
            fmt = d.get("format", WORKSPACE_FORMAT)
            if fmt != WORKSPACE_FORMAT:
                raise InputError(f"{f} has format {fmt!r}; this version reads {WORKSPACE_FORMAT!r}")
            ws.name = str(d.get("name") or root.name)
            ws.area, ws.event = dict(d.get("area") or {}), dict(d.get("event") or {})
            ws.sources = [dict(e) for e in d.get("sources") or [] if isinstance(e, dict)]
            for key in ("stores", "runs", "ablations", "predictions"):
                setattr(ws, key, [dict(e) for e in d.get(key) or [] if isinstance(e, dict) and "path" in e])
        if discover_artifacts:
            ws.merge(discover(root))
        ws._fill_from_store()
        return ws

    def to_json(self) -> dict[str, Any]:
        return {
            "format": WORKSPACE_FORMAT,
            "name": self.name,
            "area": self.area,
            "event": self.event,
            "sources": self.sources,
            "stores": self.stores,
            "runs": self.runs,
            "ablations": self.ablations,
            "predictions": self.predictions,
            "code_version": __version__,
        }

    def save(self) -> Path:
        """Write ``workspace.json`` atomically."""
        return write_json_atomic(self.root / WORKSPACE_FILE, self.to_json())

    def path(self, entry: dict[str, Any] | str) -> Path:
        """The folder of an entry (or a path string) resolved against the workspace."""
        p = Path(entry["path"] if isinstance(entry, dict) else entry)
        return p if p.is_absolute() else (self.root / p).resolve()

    # ---- adding entries ---------------------------------------------------------------------
    def _upsert(self, key: str, entry: dict[str, Any]) -> dict[str, Any]:
        entries: list[dict[str, Any]] = getattr(self, key)
        target = self.path(entry)
        for e in entries:
            if self.path(e) == target:
                e.update({k: v for k, v in entry.items() if v is not None})
                return e
        entries.append(entry)
        return entry

    def merge(self, found: dict[str, list[dict[str, Any]]]) -> None:
        """Add discovered entries (known ones keep their recorded fields, discovered ones fill gaps)."""
        for key, entries in found.items():
            for e in entries:
                existing = next((x for x in getattr(self, key) if self.path(x) == self.path(e)), None)
                if existing is None:
                    getattr(self, key).append(e)
                else:
                    for k, v in e.items():
                        existing.setdefault(k, v)

    def add_store(self, store: str | Path, **fields: Any) -> dict[str, Any]:
        return self._upsert("stores", {"path": _rel(Path(store), self.root), **store_entry(Path(store)), **fields})

    def add_run(self, run: str | Path, **fields: Any) -> dict[str, Any]:
        return self._upsert("runs", {"path": _rel(Path(run), self.root), **run_entry(Path(run)), **fields})

    def add_prediction(self, out: str | Path, **fields: Any) -> dict[str, Any]:
        return self._upsert(
            "predictions", {"path": _rel(Path(out), self.root), **prediction_entry(Path(out)), **fields}
        )

    def set_area(
        self,
        bbox_lonlat: list[float] | tuple[float, ...] | None,
        event_date: str | None = None,
        source: str | None = None,
        **event: Any,
    ) -> None:
        if bbox_lonlat is not None:
            self.area["bbox_lonlat"] = [round(float(v), 6) for v in bbox_lonlat]
        if event_date:
            self.event["date"] = str(event_date)[:10]
        self.event.update({k: v for k, v in event.items() if v is not None})
        if source and not any(s.get("description") == source for s in self.sources):
            self.sources.append({"kind": "sar+dem", "description": source})

    # ---- what the page shows ----------------------------------------------------------------
    @property
    def event_date(self) -> str | None:
        d = self.event.get("date")
        return str(d)[:10] if d else None

    @property
    def title(self) -> str:
        """``name — event YYYY-MM-DD (W, S, E, N)``: the page's title and header."""
        parts = [self.name or self.root.name]
        if self.event_date:
            parts.append(f"event {self.event_date}")
        bbox = self.area.get("bbox_lonlat")
        area = f" ({', '.join(f'{v:.3f}' for v in bbox)})" if bbox else ""
        return " — ".join(parts) + area

    def labelled_store(self) -> dict[str, Any] | None:
        """The first complete labelled store (what Table 2 and AUCs need), if any."""
        return next((s for s in self.stores if s.get("labelled") and s.get("complete", True)), None)

    def main_store(self) -> dict[str, Any] | None:
        """The store the map shows: a complete one, the labelled first."""
        done = [s for s in self.stores if s.get("complete", True)]
        return self.labelled_store() or (done[0] if done else None)

    def _fill_from_store(self) -> None:
        """Area and event from the main store's metadata when workspace.json lacks them."""
        s = self.main_store() or (self.stores[0] if self.stores else None)
        if s is None:
            return
        if not self.area.get("bbox_lonlat") and s.get("bbox_lonlat"):
            self.area["bbox_lonlat"] = s["bbox_lonlat"]
            self.area.setdefault("crs", s.get("crs"))
        if not self.event.get("date") and s.get("event_date"):
            self.event["date"] = str(s["event_date"])[:10]


# ---- entries read from artifacts ------------------------------------------------------------
def store_entry(path: Path) -> dict[str, Any]:
    """What the workspace records of a chip store (read from its ``store.json`` only)."""
    from pyproj import Transformer

    from landslide_app.chips.meta import StoreMeta

    meta = StoreMeta.read(path)
    g = meta.grid
    w, s, e, n = g.bounds
    tr = Transformer.from_crs(g.crs, "EPSG:4326", always_xy=True)
    xs, ys = tr.transform([w, e, w, e], [s, s, n, n])
    return {
        "labelled": bool(meta.labelled),
        "complete": bool(meta.complete),
        "n_chips": meta.n_chips,
        "fingerprint": meta.fingerprint,
        "has_sar": bool(meta.has_sar),
        "crs": g.crs,
        "event_date": meta.event_date,
        "n_post": meta.n_post,
        "relative_orbit": meta.relative_orbit,
        "bbox_lonlat": [round(min(xs), 6), round(min(ys), 6), round(max(xs), 6), round(max(ys), 6)],
    }


def run_entry(path: Path) -> dict[str, Any]:
    """What the workspace records of a trained run (its ``run.json``)."""
    d = _read_json(path / RUN_MARK) or {}
    cfg = d.get("config") or {}
    name = d.get("name") or "-".join(str(cfg.get(k)) for k in ("inputs", "revisits") if cfg.get(k) is not None)
    return {
        "name": name or path.name,
        "fingerprint": d.get("fingerprint"),
        "auc_val": d.get("auc_val"),
        "epochs": d.get("epochs"),
        "ensemble": d.get("ensemble", 1),
    }


def prediction_entry(path: Path) -> dict[str, Any]:
    """What the workspace records of a prediction folder (its ``summary.json``)."""
    d = _read_json(path / PREDICTION_MARK) or {}
    m = d.get("model") or {}
    return {
        "run": m.get("name"),
        "run_path": m.get("path"),
        "labelled": d.get("labelled"),
        "n_chips": d.get("n_chips"),
        "class_counts": d.get("class_counts"),
        "normalise": d.get("normalise"),
        "density": "density.tif",
        "chips": "chips.gpkg",
        "map": "map.png",
        "summary": PREDICTION_MARK,
    }


def _walk(root: Path, depth: int) -> Iterator[Path]:
    yield root
    if depth <= 0 or (root / STORE_MARK).exists():
        return
    try:
        children = sorted(
            p for p in root.iterdir() if p.is_dir() and p.name not in _SKIP and not p.name.startswith(".")
        )
    except OSError:
        return
    for c in children:
        yield from _walk(c, depth - 1)


def discover(root: str | Path, depth: int = DISCOVER_DEPTH) -> dict[str, list[dict[str, Any]]]:
    """Chip stores, trained runs, ablations and predictions in ``root`` (up to ``depth`` levels)."""
    root = Path(root).resolve()
    found: dict[str, list[dict[str, Any]]] = {"stores": [], "runs": [], "ablations": [], "predictions": []}
    for d in _walk(root, depth):
        try:
            if (d / STORE_MARK).exists():
                found["stores"].append({"path": _rel(d, root), **store_entry(d)})
            elif (d / RUN_MARK).exists() and ((d / "model.pt").exists() or (d / "forest.npz").exists()):
                found["runs"].append({"path": _rel(d, root), **run_entry(d)})
            if (d / PREDICTION_MARK).exists() and (d / "density.tif").exists():
                found["predictions"].append({"path": _rel(d, root), **prediction_entry(d)})
            if any((d / m).exists() for m in ABLATION_MARKS) and (d / "runs").is_dir():
                found["ablations"].append({"path": _rel(d, root)})
        except Exception as exc:  # noqa: BLE001 - one damaged artifact must not hide the others
            log.warning("skipping %s: %s", d, exc)
    return found


def is_workspace(path: str | Path) -> bool:
    """A folder with ``workspace.json``, or that is (or directly holds) an artifact :func:`discover` finds."""
    p = Path(path)
    if not p.is_dir():
        return False
    if (p / WORKSPACE_FILE).exists():
        return True
    return any(discover(p, depth=1).values())


def list_workspaces(root: str | Path) -> list[Path]:
    """``root`` itself when it is a workspace, then its sub-folders that are (sorted by name)."""
    root = Path(root).resolve()
    out = [root] if is_workspace(root) and not _holds_workspaces(root) else []
    try:
        subs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return out
    out += [
        p.resolve()
        for p in subs
        if (p / WORKSPACE_FILE).exists() or (p.name not in _SKIP and not _is_artifact(p) and is_workspace(p))
    ]
    return out


def _is_artifact(p: Path) -> bool:
    """A chip store, trained run or prediction folder itself (a part of a workspace, not one)."""
    return any((p / m).exists() for m in (STORE_MARK, RUN_MARK, PREDICTION_MARK))


def _holds_workspaces(root: Path) -> bool:
    """A root of workspaces (sub-folders with workspace.json) that is not one itself."""
    if (root / WORKSPACE_FILE).exists():
        return False
    try:
        return any((p / WORKSPACE_FILE).exists() for p in root.iterdir() if p.is_dir())
    except OSError:
        return False


def check_name(name: str, what: str = "workspace name") -> str:
    """A workspace (or model, ``what``) name usable as a folder name."""
    name = name.strip()
    if not _NAME.match(name) or name in (".", ".."):
        raise ConfigError(
            f"{what} {name!r}: use 1-64 letters, digits, spaces, '.', '_' or '-' (starting with a letter or digit)"
        )
    return name


def new_workspace(root: str | Path, name: str, **area: Any) -> Workspace:
    """Create ``root/name`` with its ``workspace.json``; an existing folder is refused."""
    name = check_name(name)
    folder = Path(root).resolve() / name
    if folder.exists():
        raise ConfigError(f"{folder} already exists: choose another name, or open it from the workspace list")
    folder.mkdir(parents=True)
    ws = Workspace(folder, name=name)
    if area:
        ws.set_area(**area)
    ws.save()
    return ws
