"""landslide_app: landslide-density maps from Sentinel-1 SAR and elevation.

Implements Boehm et al., "Deep learning based landslide density estimation on SAR data for
rapid response" (two-branch CNN embeddings -> 19 percentiles per chip -> random forest ->
three density classes) with an offline demo scene, a chip store and a Voila dashboard.
"""

__version__ = "0.1.0"
