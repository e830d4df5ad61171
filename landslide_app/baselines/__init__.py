"""Baselines evaluated under exactly the CNN's protocol (docs/design.md §5).

* :mod:`~landslide_app.baselines.change_ratio`: the SAR change-ratio heatmap after Handwerger et
  al. (2022): VH pre - post in dB, slope/curvature mask, 99th-percentile threshold fitted on the
  training chips, flagged-pixel density per chip -> class probabilities.
* :mod:`~landslide_app.baselines.slope_model`: a DEM-only model on per-chip slope/curvature
  statistics.
* :mod:`~landslide_app.baselines.sar_stats`: a few per-chip means of the post-event SAR change
  (VV and VH, per post date) and slope statistics -> the same forest.
* :mod:`~landslide_app.baselines.evaluate`: :func:`run_baseline`, the cross-prediction protocol of
  :mod:`landslide_app.model.protocol` with the CNN pipeline's split, returning the same summary
  keys as :meth:`landslide_app.model.cnn_protocol.RunResult.to_dict`.
"""

from landslide_app.baselines.evaluate import run_baseline
from landslide_app.core.vocabulary import BASELINE_TITLES, BASELINES

__all__ = ["BASELINES", "BASELINE_TITLES", "run_baseline"]
