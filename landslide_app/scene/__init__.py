"""Offline demo scene: a simulated island after a hurricane, written like real downloads.

The generator (docs/design.md §3.2) simulates terrain, hidden drivers, landslides and Sentinel-1
backscatter, then writes only the public products: a DEM COG, 12 SAR COGs (VV, VH x 6 dates of
paper Table 1), a local STAC catalog, a GeoPackage of landslide heads and ``scene.json``.

Public API::

    generate_scene(out_dir, size="demo", seed=0, progress=True) -> SceneSummary
    simulate_scene(size="demo", seed=0, progress=True) -> SceneFields   # in memory, hidden fields too
    parse_scene_size("12x8") -> SceneSize;  SCENE_SIZES;  scene_items(out_dir) -> list[dict]

Grid
    EPSG:32619, 10 m pixels, north-up, top-left corner (680000, 2050000). Sizes in 128-px chips:
    ``tiny`` 8x6, ``demo`` 26x17 (33.3 x 21.8 km), ``pr`` 140x48 (179 x 61 km, ~5,700 land
    chips), or ``"COLSxROWS"`` (2..400 per axis).

Terrain (:mod:`.terrain`)
    Island: superellipse (exponent 5) with the coast at radius 0.95 of the rectangle, roughened by
    a fractal field (power spectrum k^-3.4, amplitude 0.035): ~85 % land, ~85-90 % of chips more
    than half land. Elevation: an E-W Gaussian ridge (sigma = min(0.165 * height, 8 km), wavy
    crest) peaking at 1,100 m (scaled down to 0.45x for scenes under ~22 km N-S), rising from the
    coast with e-folding 1.5 km, summits above 1,000 m rounded off (1000 + 450 tanh((z-1000)/450));
    fractal relief (k^-4.6 above a 5 km corner) with std 25 m + 0.12 x ridge height; fine roughness (k^-3, 3 m std); two valley networks carved along
    zero lines of smooth fields (main: 15 m + 0.10 x ridge deep; tributaries: 5 m + 0.04 x).
    Demo: max ~1,300 m, slope median ~10 deg, 95th pct ~31 deg, 99th ~42 deg.
    Sea elevation is exactly 0.0; land is > 0 (soft floor).

Hidden drivers (:mod:`.hidden`, never written)
    Rainfall: 250 mm + 500 mm Gaussian band (sigma 0.22 x scene diagonal) around a SE->NW track
    through a random central point, + 0.25 mm per m of elevation, + smooth cells (60 mm std).
    Soil factor: lognormal (median 1, log-std 0.6, few-km features). Land cover: forest
    (~50-65 %), grass/pasture (~25-35 %), urban on the low coastal plain (~10-18 %), bare (~1-2 %).

Landslides (:mod:`.landslides`)
    Inhomogeneous Poisson process per pixel, intensity proportional to
    logistic(slope; mid 24 deg, scale 4.5 deg) x exp(0.35 x hollowness z-score, clipped +-3)
    x (rain / 500 mm)^2.5 x soil x cover (forest 1, grass 1.6, bare 2, urban 0.2), calibrated so
    the expected mean density over land is 8 /km². Demo seed 0: 4,869 heads, 7.9 /km², chip
    classes 0/1/2 = 89/251/43 of 383 land chips; head density rises from ~0.14 /km² on slopes
    < 5 deg to ~78 /km² above 40 deg. ``pr`` seed 0: 74,841 heads, 5,719 land chips. Footprints start at the head and follow the downslope direction of the
    smoothed DEM: length lognormal (median 40 m, log-std 0.75, clip 20-300 m), width lognormal
    (median 9 m, log-std 0.35, clip 5-20 m), mean area ~500 m²; rasterised as covered fraction
    by sub-sampling (2 m along x 8 across).

SAR (:mod:`.sar`)
    Gamma0 linear power, float32, nodata -32768 (never used: sea is valid, low backscatter).
    Land cover dB (VV/VH): forest -7/-13, grass -10/-17, bare -12/-20, urban -3/-10, water
    -20/-27; smooth texture 0.8 dB (VH 0.96 dB). Ascending, looking east, incidence 39 deg:
    residual terrain modulation (cos theta_loc / cos 39 deg)^1, layover (range slope towards the
    radar > 39 deg, ~0.2 % of land) +6 dB, shadow (slope away > 51 deg, ~0.01 %) at -24/-28 dB. Speckle: unit-mean gamma,
    ``ENL = 4.4`` (var ln(I1/I2) = 2 psi1(4.4) = 0.510), independent per date, polarisation and
    512-row block; the three pre-event dates share one speckle-free image. Post-event: wet-soil /
    vegetation-damage brightening VV +2.0/+1.0/+0.4 dB, VH +1.6/+0.8/+0.3 dB on the three post
    dates at normalised rainfall 1 ((rain-250)/500, clipped 0..1.5), x cover (urban 0.3, bare
    1.2), + smooth weather 0.3 dB std per post date; scars: (1-f) + f x 10^(dB/10) with f the
    covered fraction and dB (VV/VH) forest -2/-6, grass -0.5/-3, bare 0/-1, urban -2/-3.

Randomness: ``numpy.random.SeedSequence(seed, spawn_key=(crc32(stage), ...))`` streams per stage
(:mod:`.rng`), so the scene is a deterministic function of (size, seed).
"""

from __future__ import annotations

from landslide_app.scene.generate import SceneSummary, generate_scene, read_scene_metadata
from landslide_app.scene.grid import SceneGrid
from landslide_app.scene.sar import ENL
from landslide_app.scene.simulate import GENERATOR_VERSION, SceneFields, simulate_scene
from landslide_app.scene.sizes import SCENE_SIZES, SceneSize, check_seed, parse_scene_size
from landslide_app.scene.stac import scene_items

__all__ = [
    "ENL",
    "GENERATOR_VERSION",
    "SCENE_SIZES",
    "SceneFields",
    "SceneGrid",
    "SceneSize",
    "SceneSummary",
    "check_seed",
    "generate_scene",
    "parse_scene_size",
    "read_scene_metadata",
    "scene_items",
    "simulate_scene",
]
