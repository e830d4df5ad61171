"""A fitted random forest as plain arrays in one ``.npz`` file: safe to open, fast to load.

The density forest's file (``forest.npz``, ``forest_fold<k>.npz``) holds only numbers: every tree's
node table (scikit-learn's own ``Tree`` state: children, feature, threshold, ... as one structured
array), its leaf values, the forest's classes and out-of-bag probabilities, and a JSON header
(format, forest parameters, seed, training class counts, scikit-learn version). It is read with
``numpy.load(allow_pickle=False)``, so nothing in it can run code, and the forest is rebuilt from
the arrays with ``Tree.__setstate__`` (what unpickling does), so its probabilities are exactly the
saved forest's (tested).

Why not ``skops`` (the former format, still read for older runs: ``forest.skops``): importing
``skops.io`` walks every scikit-learn module to list its estimators. Measured with
``benchmarks/bench_forest_file.py`` (a 300-tree forest of 12,376 nodes, each load in a fresh
process, AMD EPYC 2 cores): skops 3.9-5.1 s (4.8 CPU-s) against 0.016 s for this format, files of
6.7 MB against 0.2 MB, identical probabilities. In ``respond`` on the demo-size island the model
stage went from 1.6-2.2 s to 0.04 s (``benchmarks/bench_respond.py``, same code, alternating).

A file whose node table does not have this scikit-learn's layout (written by a version whose
``Tree`` differs) is refused with a :class:`~landslide_app.errors.ModelFileError` naming both
versions, never misread.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier
from sklearn.tree._tree import NODE_DTYPE, Tree

from landslide_app.atomic import atomic_path
from landslide_app.errors import ModelFileError, UntrustedFileError

FORMAT: str = "landslide-app-forest-arrays/1"
_ARRAYS = ("header", "nodes", "values", "node_counts", "max_depths", "tree_seeds", "classes", "oob")


def readable_forest_path(path: Path) -> Path:
    """``path`` (a ``.npz`` forest), or its former-format sibling (``.skops``) where only that one
    exists: a run or ablation folder written before the ``.npz`` format."""
    legacy = path.with_suffix(".skops")
    return legacy if legacy.exists() and not path.exists() else path


def save_arrays(model: RandomForestClassifier, meta: dict[str, Any], path: Path) -> Path:
    """Write a fitted ``model`` and the JSON-friendly ``meta`` (``n_classes``, ``seed``, ``params``,
    ``train_counts``) to ``path`` atomically."""
    trees = [e.tree_ for e in model.estimators_]
    states = [t.__getstate__() for t in trees]
    header = {
        "format": FORMAT,
        "sklearn": sklearn.__version__,
        "n_features": int(model.n_features_in_),
        "oob_score": None if getattr(model, "oob_score_", None) is None else float(model.oob_score_),
        **meta,
    }
    arrays = {
        "header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
        "nodes": np.concatenate([s["nodes"] for s in states]),
        "values": np.concatenate([s["values"] for s in states]),
        "node_counts": np.asarray([s["node_count"] for s in states], dtype=np.int64),
        "max_depths": np.asarray([s["max_depth"] for s in states], dtype=np.int64),
        "tree_seeds": np.asarray([e.random_state for e in model.estimators_], dtype=np.int64),
        "classes": np.asarray(model.classes_),
        "oob": np.asarray(getattr(model, "oob_decision_function_", np.empty((0, 0))), dtype=np.float64),
    }
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]  # numpy's stub types allow_pickle as a kwarg
    with atomic_path(Path(path)) as tmp:
        Path(tmp).write_bytes(buf.getvalue())
    return Path(path)


def load_arrays(path: Path) -> tuple[RandomForestClassifier, dict[str, Any]]:
    """``(forest, header)`` of a file written by :func:`save_arrays`.

    Raises:
        UntrustedFileError: the file holds Python objects (only plain arrays are read).
        ModelFileError: missing, truncated or damaged, not this format, or written by a
            scikit-learn whose tree layout differs.
    """
    arrays = _read(path)
    try:
        header = json.loads(arrays["header"].tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{path} has a damaged header ({err}); retrain the model.") from err
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a landslide_app forest ({FORMAT}); retrain it.")
    if not {"n_classes", "seed", "params", "n_features"} <= set(header):
        raise ModelFileError(f"{path} has a damaged header (fields missing); retrain the model.")
    nodes = _node_table(arrays["nodes"])
    if nodes is None:
        raise ModelFileError(
            f"{path} was written by scikit-learn {header.get('sklearn')}, whose tree layout differs from "
            f"this scikit-learn {sklearn.__version__}; retrain the model here or install that version."
        )
    try:
        return _rebuild(header, {**arrays, "nodes": nodes}), header
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise ModelFileError(f"{path} is damaged ({type(err).__name__}: {err}); retrain the model.") from err


def _read(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise ModelFileError(f"No forest file at {path}; train the model first.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}  # every array: one holding objects is refused here
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise UntrustedFileError(
                f"{path} was refused: it holds Python objects, which a forest file never does; nothing "
                "from it was loaded or run. Use a forest written by landslide_app, or retrain."
            ) from err
        raise ModelFileError(f"{path} is damaged ({err}); retrain the model or copy the file again.") from err
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise ModelFileError(
            f"{path} is not a readable forest file ({type(err).__name__}: {err}): it is truncated or "
            "damaged; retrain the model or copy the file again."
        ) from err
    missing = [k for k in _ARRAYS if k not in data]
    if missing:
        what = ", ".join(missing)
        raise ModelFileError(f"{path} lacks {what}: it is not a landslide_app forest; retrain it.")
    return data


def _node_table(nodes: np.ndarray) -> np.ndarray | None:
    """``nodes`` in scikit-learn's ``NODE_DTYPE`` (``np.save`` drops its padding), or None when its
    fields (names and types) are not this scikit-learn's."""
    fields = nodes.dtype.fields
    if fields is None or nodes.dtype.names != NODE_DTYPE.names:
        return None
    if any(fields[n][0] != NODE_DTYPE.fields[n][0] for n in NODE_DTYPE.names):
        return None
    out = np.zeros(nodes.shape, dtype=NODE_DTYPE)
    for name in NODE_DTYPE.names:
        out[name] = nodes[name]
    return out


def _rebuild(header: dict[str, Any], a: dict[str, np.ndarray]) -> RandomForestClassifier:
    """The forest of ``a``: each tree's ``Tree`` restored from its node table and values."""
    params = dict(header["params"])
    classes = a["classes"]
    n_features, n_classes = int(header["n_features"]), len(classes)
    model = RandomForestClassifier(random_state=int(header["seed"]), **params)
    tree_params = {k: v for k, v in model.get_params().items() if k in DecisionTreeClassifier().get_params()}
    tree_params.pop("random_state", None)
    ends = np.cumsum(a["node_counts"])
    if len(ends) == 0 or ends[-1] != len(a["nodes"]) or len(a["values"]) != len(a["nodes"]):
        raise ValueError("node counts do not match the node table")
    estimators = []
    for k, (end, count) in enumerate(zip(ends, a["node_counts"])):
        tree = Tree(n_features, np.asarray([n_classes], dtype=np.intp), 1)
        sl = slice(int(end - count), int(end))
        state = {"max_depth": int(a["max_depths"][k]), "node_count": int(count)}
        tree.__setstate__({**state, "nodes": a["nodes"][sl], "values": a["values"][sl]})
        est = DecisionTreeClassifier(random_state=int(a["tree_seeds"][k]), **tree_params)
        est.tree_, est.n_features_in_, est.n_outputs_ = tree, n_features, 1
        est.classes_, est.n_classes_ = classes, n_classes
        est.max_features_ = _max_features(params.get("max_features"), n_features)
        estimators.append(est)
    model.estimator_ = DecisionTreeClassifier(**tree_params)
    model.estimators_ = estimators
    model.classes_, model.n_classes_, model.n_outputs_, model.n_features_in_ = classes, n_classes, 1, n_features
    if a["oob"].size:
        model.oob_decision_function_ = a["oob"]
        model.oob_score_ = header.get("oob_score")
    return model


def _max_features(value: Any, n_features: int) -> int:
    """scikit-learn's ``max_features_`` of a fitted tree for the forest's ``max_features``."""
    if value == "sqrt":
        return max(1, int(np.sqrt(n_features)))
    if value == "log2":
        return max(1, int(np.log2(n_features)))
    if value is None:
        return n_features
    if isinstance(value, float):
        return max(1, int(value * n_features))
    return int(value)
