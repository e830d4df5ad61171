"""Data sources: STAC catalogs (Planetary Computer or local), DEM/SAR readers, landslide inventories."""
