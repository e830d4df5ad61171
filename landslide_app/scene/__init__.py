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
    fractal relief (k^-4.6 above a 5 km corner) with std 25 m + 0.12 x ridge height;
    fine roughness (k^-3, 3 m std); two valley networks carved along
    zero lines of smooth fields (main: 15 m + 0.10 x ridge deep; tributaries: 5 m + 0.04 x).
    Demo: max ~1,300 m, slope median ~10 deg, 95th pct ~31 deg, 99th ~42 deg.
    Sea elevation is exactly 0.0; land is > 0 (soft floor).

Hidden drivers (:mod:`.hidden`, never written)
    Rainfall (storm total): (250 mm + 350 mm Gaussian band, sigma 0.22 x scene diagonal, around a
    SE->NW track through a random central point) x a lognormal field of rain bands and cells
    (log-std 0.45, spectrum k^-3 below an 8 km corner: features of a few km, several chips wide),
    no orographic term: at the scale of a chip the rainfall is independent of the terrain. Demo
    seed 0: 0.5-99.5 % of land 160-1,540 mm, median 450 mm. Source: NHC Tropical Cyclone Report AL152017 (María;
    Pasch, Penny & Berg 2019): storm totals of several hundred mm over most of Puerto Rico, up to
    ~960 mm (37.9 in, Caguas), falling in bands. Wind damage (0..1): a band twice as wide around
    the same track plus gusts (std 0.15); it strips vegetation (seen by the SAR) but triggers no
    landslide (Hu & Smith 2018, Remote Sensing 10:827: island-wide canopy loss after María).
    Soil factor: lognormal (median 1, log-std 0.6, few-km features). Land cover: forest
    (~50-65 %), grass/pasture (~25-35 %), urban on the low coastal plain (~10-18 %), bare (~1-2 %).

Landslides (:mod:`.landslides`)
    Inhomogeneous Poisson process per pixel, intensity proportional to
    logistic(slope; mid 22 deg, scale 6 deg) x exp(0.35 x hollowness z-score, clipped +-3)
    x (rain / 500 mm)^4 x soil x cover (forest 1, grass 1.6, bare 2, urban 0.2), calibrated so
    the expected mean density over land is 8 /km² (71,431 heads over ~9,000 km² of Puerto Rico:
    paper §2; Hughes et al. 2019 inventory). Terrain sets susceptibility, the storm decides where
    slopes fail: Bessette-Kirton et al. 2019 (GSA Today 29(6)) found María's >40,000 landslides
    concentrated where rainfall was highest on susceptible ground, and in the paper DEM-only
    models reach only AUC ~0.70 while SAR adds ~0.1. The rainfall exponent (4) and cell
    log-std (0.45) are this generator's choices, set so that a slope-only model explains well
    under half of the chip-level log density (issue 13), never against any model's AUC:
    ``benchmarks/bench_scene.py`` (:func:`.diagnostics.terrain_r2`) measures, on demo seeds 0-4,
    R² of the slope-only model 0.22-0.42 (median 0.31) on the log expected and 0.18-0.31
    (median 0.22) on the log realised chip density (old generator, seed 0: 0.88 / 0.82).
    Demo seed 0: 4,904 heads, 7.96 /km², chip classes 0/1/2 = 106/256/21 of 383 land chips; head
    density 1.6 / 2.7 / 6.2 / 18.5 / 48 per km² on slopes < 5, 5-10, 10-20, 20-30, > 30 deg.
    Density classes use the whole chip's area (1.6384 km²), as the paper and the chip store
    (``chips/labels.py``) do, not the land area of coastal chips: stated choice, measured harmless
    here (demo seed 0: 52 of 383 land chips are < 99 % land, none changes class with land-area
    density; coastal chips are low and gentle, far from the 25 /km² edge).
    Footprints start at the head and follow the downslope direction
    of the smoothed DEM: length lognormal (median 40 m, log-std 0.75, clip 20-300 m), width
    lognormal (median 9 m, log-std 0.35, clip 5-20 m), mean area ~500 m²; rasterised as covered
    fraction by sub-sampling (2 m along x 8 across). Paper §2: ~45 % of the landslides are
    smaller than a 10 m pixel, many long and thin.

SAR (:mod:`.sar`)
    Gamma0 linear power, float32, nodata -32768 (never used: sea is valid, low backscatter).
    Land cover dB (VV/VH): forest -7/-13, grass -10/-17, bare -12/-20, urban -3/-10, water
    -20/-27; smooth texture 0.8 dB (VH 0.96 dB). Ascending, looking east, incidence 39 deg:
    residual terrain modulation (cos theta_loc / cos 39 deg)^1, layover (range slope towards the
    radar > 39 deg, ~0.2 % of land) +6 dB, shadow (slope away > 51 deg, ~0.01 %) at -24/-28 dB.
    Speckle: unit-mean gamma, ``ENL = 4.4`` (var ln(I1/I2) = 2 psi1(4.4) = 0.510), independent
    per date, polarisation and 512-row block. Season (every date, generator's choice): scene-wide
    +0.0/+0.15/+0.3/+0.3/+0.35/+0.4 dB from 23 Aug to 22 Oct (wet season) and a smooth field of
    0.5 dB std independent per date, so the pre-event dates differ by more than speckle.
    Post-event, unrelated to landslides: wet soil / canopy water VV +2.0/+1.0/+0.4 dB, VH
    +1.6/+0.8/+0.3 dB on the three post dates at normalised rainfall 1 ((rain-250)/500, clipped
    0..1.5), x cover (urban 0.3, bare 1.2), + smooth weather 0.3 dB std per post date; stripped
    vegetation VV -1 / VH -2 dB x wind damage on forest (x0.5 pasture, x0.2 towns), recovering
    15 % per date; flooding of low (< 40 m), flat (< 3 deg) land in patches where it rained most
    (~3 % of land on 22 Sep, less later): open water -18/-25 dB, towns +4 dB double bounce
    (extensive river and coastal flooding: NHC report; -15 to -20 dB VV is the usual C-band
    open-water range); in layover an independent 2 dB-std change per post date (the mixed
    return of a whole slope) and no visible scar. Scars: (1-f) + f x 10^(dB/10) with f the
    covered fraction and dB (VV/VH) forest -2/-6, grass -0.5/-3, bare 0/-1, urban -2/-3.
    The unrelated changes are of the order of the scar signal on ~20-30 % of the land (paper
    §5: "SAR is responding to many things after the hurricane, not only landslides").

Randomness: ``numpy.random.SeedSequence(seed, spawn_key=(crc32(stage), ...))`` streams per stage
(:mod:`.rng`), so the scene is a deterministic function of (size, seed).
"""

from __future__ import annotations

from landslide_app.scene.catalog import scene_items
from landslide_app.scene.generate import SceneSummary, generate_scene, read_scene_metadata
from landslide_app.scene.grid import SceneGrid
from landslide_app.scene.sar import ENL
from landslide_app.scene.simulate import GENERATOR_VERSION, SceneFields, simulate_scene
from landslide_app.scene.sizes import SCENE_SIZES, SceneSize, check_seed, parse_scene_size

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
