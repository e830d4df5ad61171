"""The typed form of a stored run result (``result.json``, ``results.json`` entries, baselines).

:class:`RunRecord` is what the report, the tables and the dashboard read instead of digging in
dicts. ``RunRecord.from_dict(d).to_dict() == d`` for every stored result: keys this class does
not know are kept in ``extra``, so older and newer files round-trip unchanged.
"""

from __future__ import annotations

from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any

from landslide_app.errors import InputError


@dataclass(frozen=True)
class SetScores:
    """One score on the training, validation and test (held-out) chips (None: undefined)."""

    train: float | None = None
    val: float | None = None
    test: float | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> SetScores:
        d = d or {}
        return cls(d.get("train"), d.get("val"), d.get("test"))

    def to_dict(self) -> dict[str, float | None]:
        return {"train": self.train, "val": self.val, "test": self.test}


@dataclass
class RunRecord:
    """A configuration's (or a baseline's) stored result.

    ``revisits`` is None for the slope baseline (a DEM model); ``name`` is set for baselines only;
    ``shared_with`` names the run a DEM-only result was computed as.
    """

    inputs: str
    revisits: int | None
    split: str
    auc: SetScores
    auc_weighted: SetScores = field(default_factory=SetScores)
    auc_per_class: dict[str, list[float | None]] = field(default_factory=dict)
    confusion: list[list[int]] = field(default_factory=list)
    n_chips: int = 0
    seconds: float = 0.0
    seed: int | None = None
    epochs: int | None = None
    class_support: list[int] = field(default_factory=list)
    folds: list[dict[str, Any]] = field(default_factory=list)
    key: str | None = None
    fingerprint: str | None = None
    wall_seconds: float | None = None
    shared_with: str | None = None
    thresholds: tuple[float, float] | None = None
    name: str | None = None
    method: dict[str, Any] | None = None
    test_proba: list[list[float | None]] | None = None
    #: the training of some fold collapsed (constant embeddings: :mod:`landslide_app.model.collapse`)
    collapsed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_baseline(self) -> bool:
        return self.name is not None

    @property
    def map_metrics(self) -> dict[str, Any]:
        """The map's metrics under the run's decision rule (``result.json`` ``map``; empty for results
        written before the decision rule)."""
        return self.extra.get("map") or {}

    @property
    def map_confusion(self) -> list[list[int]]:
        """Confusion counts of the map's classes; for results without them, of the forest's most
        probable class (``confusion``)."""
        return self.map_metrics.get("confusion") or self.confusion

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunRecord:
        """Read a stored result; a result without ``inputs``, ``split`` or ``auc`` is an InputError."""
        if not isinstance(d, dict) or not {"inputs", "split", "auc"} <= set(d):
            raise InputError("a run result needs 'inputs', 'split' and 'auc'; the file is damaged: rerun it")
        known = {f.name for f in fields(cls)} - {"extra"}
        kw: dict[str, Any] = {k: v for k, v in d.items() if k in known}
        kw["auc"] = SetScores.from_dict(d.get("auc"))
        kw["auc_weighted"] = SetScores.from_dict(d.get("auc_weighted"))
        if d.get("thresholds") is not None:
            kw["thresholds"] = (float(d["thresholds"][0]), float(d["thresholds"][1]))
        present = [k for k in known if k in d]
        return cls(**kw, extra={**{k: v for k, v in d.items() if k not in known}, "_present": present})

    def to_dict(self) -> dict[str, Any]:
        """The stored form (only the keys the result had, plus those set since)."""
        present = set(self.extra.get("_present", ()))
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            v = getattr(self, f.name)
            if f.name not in present and v == _default(f) and f.name not in ("inputs", "split", "auc", "revisits"):
                continue
            if isinstance(v, SetScores):
                v = v.to_dict()
            elif f.name == "thresholds" and v is not None:
                v = list(v)
            out[f.name] = v
        out.update({k: v for k, v in self.extra.items() if k != "_present"})
        return out


def _default(f: Field) -> Any:
    return f.default_factory() if f.default is MISSING and f.default_factory is not MISSING else f.default
