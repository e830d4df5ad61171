"""The fields every configuration result carries (a CNN configuration, an ablation run, a
baseline), written out here for the tests that check results (``test_baselines``,
``test_experiments``, ``test_model_pipeline``) rather than read from the code under test."""

from __future__ import annotations

RESULT_KEYS = frozenset(
    {
        "inputs",
        "revisits",
        "split",
        "auc",
        "auc_weighted",
        "auc_per_class",
        "confusion",
        "n_chips",
        "seconds",
    }
)
