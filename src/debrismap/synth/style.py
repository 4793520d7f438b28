"""Per-city look: region palette, sun, view geometry and sensor settings, drawn from one seed.

Everything that should be constant across one acquisition (sun azimuth and elevation,
off-nadir lean, haze, white balance, blur, compression) is decided here once per city,
so shadows and leaning walls agree everywhere in the scene. The material table gives
each surface a reflectance (R, G, B, NIR) and a texture kind; colours are then jittered
per object so no class owns a unique colour.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Texture kinds (indexes into TEXTURES).
FLAT, ASPHALT, PAVING, GRASS, SOIL, TILES, METAL, GRAVEL, FOLIAGE, SOLAR, ROWS, FABRIC = range(12)

# kind -> (fine, medium, coarse, stripe amplitude, stripe period m, medium cell m, coarse cell m)
TEXTURES = np.array(
    [
        (0.02, 0.03, 0.04, 0.00, 1.0, 1.5, 12.0),  # FLAT
        (0.08, 0.05, 0.10, 0.00, 1.0, 1.0, 10.0),  # ASPHALT
        (0.04, 0.06, 0.08, 0.03, 2.5, 1.0, 8.0),  # PAVING
        (0.14, 0.20, 0.16, 0.00, 1.0, 1.2, 9.0),  # GRASS
        (0.10, 0.12, 0.16, 0.00, 1.0, 1.5, 7.0),  # SOIL
        (0.04, 0.04, 0.05, 0.07, 0.9, 2.0, 10.0),  # TILES
        (0.02, 0.02, 0.05, 0.10, 1.1, 3.0, 12.0),  # METAL
        (0.10, 0.12, 0.08, 0.00, 1.0, 0.8, 5.0),  # GRAVEL
        (0.15, 0.35, 0.10, 0.00, 1.0, 0.9, 4.0),  # FOLIAGE
        (0.03, 0.02, 0.02, 0.25, 1.4, 2.0, 10.0),  # SOLAR
        (0.05, 0.10, 0.10, 0.30, 1.6, 1.0, 6.0),  # ROWS
        (0.08, 0.10, 0.05, 0.00, 1.0, 0.6, 3.0),  # FABRIC
    ],
    dtype=np.float32,
)

# name -> (R, G, B, NIR) reflectance and texture kind. Jittered per object.
MATERIALS: dict[str, tuple[tuple[float, float, float, float], int]] = {
    "asphalt": ((0.11, 0.11, 0.115, 0.13), ASPHALT),
    "asphalt_old": ((0.17, 0.165, 0.16, 0.19), ASPHALT),
    "concrete": ((0.30, 0.29, 0.27, 0.32), PAVING),
    "paving": ((0.26, 0.24, 0.22, 0.28), PAVING),
    "paving_red": ((0.30, 0.20, 0.16, 0.30), PAVING),
    "sidewalk": ((0.28, 0.27, 0.25, 0.30), PAVING),
    "grass": ((0.07, 0.12, 0.05, 0.42), GRASS),
    "grass_dry": ((0.19, 0.19, 0.11, 0.30), GRASS),
    "soil": ((0.26, 0.21, 0.16, 0.30), SOIL),
    "soil_dark": ((0.16, 0.13, 0.10, 0.22), SOIL),
    "sand": ((0.38, 0.33, 0.25, 0.40), SOIL),
    "gravel": ((0.27, 0.26, 0.24, 0.29), GRAVEL),
    "rubber": ((0.30, 0.12, 0.10, 0.25), FLAT),
    "garden": ((0.14, 0.15, 0.08, 0.35), ROWS),
    "foliage": ((0.045, 0.085, 0.035, 0.40), FOLIAGE),
    "foliage_light": ((0.08, 0.12, 0.05, 0.45), FOLIAGE),
    "roof_concrete": ((0.33, 0.32, 0.30, 0.34), PAVING),
    "roof_bitumen": ((0.14, 0.14, 0.14, 0.16), ASPHALT),
    "roof_white": ((0.55, 0.55, 0.53, 0.55), FLAT),
    "roof_terracotta": ((0.36, 0.16, 0.10, 0.38), TILES),
    "roof_brown_tiles": ((0.22, 0.13, 0.09, 0.26), TILES),
    "roof_shingle": ((0.13, 0.12, 0.12, 0.15), TILES),
    "roof_slate": ((0.10, 0.11, 0.13, 0.12), TILES),
    "roof_metal": ((0.38, 0.38, 0.38, 0.38), METAL),
    "roof_metal_rust": ((0.30, 0.17, 0.11, 0.30), METAL),
    "roof_metal_blue": ((0.10, 0.18, 0.30, 0.20), METAL),
    "roof_metal_green": ((0.10, 0.20, 0.14, 0.18), METAL),
    "roof_metal_red": ((0.32, 0.09, 0.08, 0.30), METAL),
    "roof_gravel": ((0.24, 0.23, 0.21, 0.26), GRAVEL),
    "wall_plaster": ((0.40, 0.37, 0.32, 0.42), FLAT),
    "wall_brick": ((0.30, 0.16, 0.11, 0.32), FLAT),
    "wall_grey": ((0.28, 0.28, 0.27, 0.30), FLAT),
    "solar": ((0.05, 0.07, 0.13, 0.06), SOLAR),
}

# Region presets: which materials dominate. Weights are relative.
REGIONS: dict[str, dict] = {
    "mediterranean": dict(
        roofs_house={"roof_terracotta": 5, "roof_brown_tiles": 2, "roof_concrete": 2, "roof_white": 1},
        roofs_flat={"roof_concrete": 5, "roof_white": 2, "roof_gravel": 1, "roof_bitumen": 1},
        ground={"soil": 2, "grass_dry": 3, "paving": 3, "gravel": 1, "grass": 1},
        walls={"wall_plaster": 4, "wall_grey": 1, "wall_brick": 1},
        tree_density=0.7, apartment_share=0.45, water_tanks=0.5, solar=0.3,
    ),
    "middle_east": dict(
        roofs_house={"roof_concrete": 6, "roof_white": 2, "roof_metal": 1},
        roofs_flat={"roof_concrete": 6, "roof_white": 2, "roof_gravel": 1, "roof_bitumen": 1},
        ground={"soil": 4, "sand": 3, "paving": 2, "grass_dry": 1},
        walls={"wall_plaster": 5, "wall_grey": 2},
        tree_density=0.35, apartment_share=0.6, water_tanks=0.9, solar=0.5,
    ),
    "east_europe": dict(
        roofs_house={"roof_metal": 2, "roof_metal_red": 2, "roof_metal_green": 1, "roof_slate": 2,
                     "roof_brown_tiles": 2, "roof_terracotta": 1},
        roofs_flat={"roof_bitumen": 5, "roof_gravel": 2, "roof_concrete": 2},
        ground={"grass": 5, "soil": 2, "asphalt_old": 2, "soil_dark": 1},
        walls={"wall_grey": 3, "wall_plaster": 2, "wall_brick": 2},
        tree_density=1.0, apartment_share=0.55, water_tanks=0.05, solar=0.1,
    ),
    "suburb": dict(
        roofs_house={"roof_shingle": 5, "roof_slate": 2, "roof_brown_tiles": 1, "roof_metal": 1},
        roofs_flat={"roof_white": 3, "roof_gravel": 3, "roof_bitumen": 2},
        ground={"grass": 6, "grass_dry": 1, "soil": 1},
        walls={"wall_plaster": 2, "wall_brick": 2, "wall_grey": 1},
        tree_density=1.2, apartment_share=0.15, water_tanks=0.0, solar=0.25,
    ),
    "tropical": dict(
        roofs_house={"roof_metal": 3, "roof_metal_rust": 3, "roof_metal_blue": 1, "roof_metal_red": 1,
                     "roof_concrete": 2},
        roofs_flat={"roof_concrete": 4, "roof_metal": 2, "roof_metal_rust": 1},
        ground={"soil": 4, "grass": 3, "soil_dark": 2},
        walls={"wall_plaster": 3, "wall_grey": 2},
        tree_density=1.1, apartment_share=0.2, water_tanks=0.6, solar=0.1,
    ),
}


@dataclass
class CityStyle:
    """Constants of one synthetic acquisition."""

    region: str
    region_spec: dict
    sun_azimuth_deg: float  # direction *towards* the sun, clockwise from north (image up)
    sun_elevation_deg: float
    lean_azimuth_deg: float  # direction tall objects lean to in the image
    off_nadir_deg: float
    shadow_brightness: float  # fraction of direct light left in shadow (sky light)
    tint: np.ndarray  # per-band white balance gains (4,)
    haze: float
    haze_colour: np.ndarray  # (4,)
    exposure: float
    gamma: float
    blur_sigma_px: float
    sharpen: float
    chroma_blur_px: float  # pan-sharpening: colour is coarser than luminance
    noise_sigma: float  # in reflectance units
    jpeg_quality: int | None  # None: no block compression
    misregistration_px: np.ndarray  # (4, 2) sub-pixel (dx, dy) per band
    pile_palette_shift: float  # slight shift of pile colours per city
    extras: dict = field(default_factory=dict)

    @property
    def shadow_vector(self) -> np.ndarray:
        """Image-space unit vector (dx, dy; y down) along which shadows fall."""
        a = np.deg2rad(self.sun_azimuth_deg)
        # towards sun = (sin a, -cos a) in image coordinates; shadow goes the other way
        return np.array([-np.sin(a), np.cos(a)])

    @property
    def shadow_length_per_m(self) -> float:
        """Horizontal shadow length per metre of height."""
        return 1.0 / np.tan(np.deg2rad(self.sun_elevation_deg))

    @property
    def lean_vector(self) -> np.ndarray:
        """Image-space displacement (dx, dy) per metre of height, in metres."""
        a = np.deg2rad(self.lean_azimuth_deg)
        return np.tan(np.deg2rad(self.off_nadir_deg)) * np.array([np.sin(a), -np.cos(a)])

    @property
    def wall_light(self) -> float:
        """Brightness of the facades we see: they face the sensor, lit if the sun is that side."""
        facing = -self.lean_vector / (np.linalg.norm(self.lean_vector) + 1e-9)
        to_sun = -self.shadow_vector
        c = float(np.dot(facing, to_sun)) * np.cos(np.deg2rad(self.sun_elevation_deg))
        return self.shadow_brightness + (1 - self.shadow_brightness) * max(c, 0.0) * 0.9


def pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], float)
    return names[rng.choice(len(names), p=p / p.sum())]


def material_colour(rng: np.random.Generator, name: str, jitter: float = 0.12) -> tuple[np.ndarray, int]:
    """Reflectance of one object made of `name`: brightness and hue jittered."""
    rgbn, kind = MATERIALS[name]
    c = np.array(rgbn, np.float32)
    c *= np.float32(np.exp(rng.normal(0, jitter)))  # brightness
    c[:3] *= np.exp(rng.normal(0, jitter * 0.35, 3)).astype(np.float32)  # hue
    return np.clip(c, 0.01, 0.95), kind


def make_style(rng: np.random.Generator, bands: int, bit_depth: int) -> CityStyle:
    region = list(REGIONS)[rng.integers(len(REGIONS))]
    jpeg = None
    if bit_depth == 8 and rng.random() < 0.6:
        jpeg = int(rng.integers(45, 92))
    wb = np.exp(rng.normal(0, 0.06, 4)).astype(np.float32)
    haze_col = np.array([0.80, 0.86, 1.0, 0.7], np.float32) * np.float32(rng.uniform(0.8, 1.1))
    mis = rng.normal(0, 0.18, (4, 2)).astype(np.float32)
    mis[1] = 0.0  # green is the reference band
    return CityStyle(
        region=region,
        region_spec=REGIONS[region],
        sun_azimuth_deg=float(rng.uniform(0, 360)),
        sun_elevation_deg=float(rng.uniform(25, 68)),
        lean_azimuth_deg=float(rng.uniform(0, 360)),
        off_nadir_deg=float(rng.uniform(0, 26) * rng.random() ** 0.3),
        shadow_brightness=float(rng.uniform(0.18, 0.4)),
        tint=wb,
        haze=float(rng.uniform(0.0, 0.1) * rng.random()),
        haze_colour=haze_col,
        exposure=float(rng.uniform(1.15, 1.85)),
        gamma=float(rng.uniform(1.3, 2.0)),
        blur_sigma_px=float(rng.uniform(0.35, 0.85)),
        sharpen=float(rng.uniform(0.0, 0.9) if rng.random() < 0.6 else 0.0),
        chroma_blur_px=float(rng.uniform(0.5, 1.5)),
        noise_sigma=float(rng.uniform(0.005, 0.018)),
        jpeg_quality=jpeg,
        misregistration_px=mis,
        pile_palette_shift=float(rng.normal(0, 0.08)),
        extras={"road_seed": int(rng.integers(2**31))},
    )
