"""The camera: reflectance in, digital numbers out, with the flaws of a real VHR product.

White balance, haze, pan-sharpening (colour coarser than brightness), band
misregistration, optics blur (MTF) with optional sharpening, signal-dependent noise, the
tone curve to 8 bit or linear 12 bit, and JPEG-like 8x8 block compression with 4:2:0
chroma. Works on a window rendered with a halo; every random term is hashed from
absolute pixel coordinates and the compression grid is aligned to absolute multiples of
8, so blocks join without seams.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.fft import dctn, idctn

from debrismap.synth import noise
from debrismap.synth.style import CityStyle

HALO = 16  # pixels of context each side; a multiple of 16 (the compression MCU grid)

_Q_LUMA = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56], [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    np.float32,
)
_Q_CHROMA = np.full((8, 8), 99, np.float32)
_Q_CHROMA[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]


def apply_sensor(refl: np.ndarray, x0: int, y0: int, style: CityStyle, seed: int, bit_depth: int) -> np.ndarray:
    """Reflectance (h, w, 4) of a halo window at absolute (x0, y0) -> DN float (h, w, 4)."""
    img = refl * style.tint
    h, w = img.shape[:2]
    haze_field = 1 + 0.3 * noise.value(x0, y0, h, w, 400.0, seed + 11)
    img = img * (1 - style.haze) + (style.haze * 0.35) * style.haze_colour * haze_field[..., None]
    # pan-sharpening: brightness at full resolution, colour smoother
    luma = img[..., :3].mean(axis=2, keepdims=True)
    chroma = img[..., :3] - luma
    for b in range(3):
        chroma[..., b] = ndimage.gaussian_filter(chroma[..., b], style.chroma_blur_px, mode="nearest")
    img[..., :3] = luma + chroma
    img[..., 3] = ndimage.gaussian_filter(img[..., 3], style.chroma_blur_px * 0.8, mode="nearest")
    out = np.empty_like(img)
    for b in range(4):
        band = img[..., b]
        dx, dy = style.misregistration_px[b]
        if abs(dx) + abs(dy) > 0.02:
            band = ndimage.shift(band, (dy, dx), order=1, mode="nearest")
        blurred = ndimage.gaussian_filter(band, style.blur_sigma_px, mode="nearest")
        if style.sharpen > 0:
            blurred = blurred + style.sharpen * (blurred - ndimage.gaussian_filter(blurred, 1.6, mode="nearest"))
        out[..., b] = blurred
    # shot + read noise, hashed per absolute pixel and band
    for b in range(4):
        n = noise.gaussian(x0, y0, h, w, seed + 101 + b)
        out[..., b] += style.noise_sigma * np.sqrt(np.clip(out[..., b], 0, None) / 0.15 + 0.4) * n
    if bit_depth == 8:
        v = np.clip(out * style.exposure, 0, 1) ** (1 / style.gamma) * 255.0
        if style.jpeg_quality is not None:
            v[..., :3] = jpeg_like(v[..., :3], style.jpeg_quality, x0, y0)
        return np.clip(np.round(v), 0, 255)
    v = np.clip(out * style.exposure * 0.55, 0, 1) * 4095.0  # linear, like raw 12-bit products
    return np.clip(np.round(v), 0, 4095)


def jpeg_like(rgb: np.ndarray, quality: int, x0: int, y0: int) -> np.ndarray:
    """8x8 DCT quantisation with 4:2:0 chroma, on the absolute 8-pixel grid."""
    h, w = rgb.shape[:2]
    # Only whole 16x16 MCUs of the absolute grid; the halo absorbs the ragged edges.
    ox, oy = (-x0) % 16, (-y0) % 16
    bw, bh = (w - ox) // 16 * 16, (h - oy) // 16 * 16
    if bw <= 0 or bh <= 0:
        return rgb
    sub = rgb[oy : oy + bh, ox : ox + bw].astype(np.float32)
    y = 0.299 * sub[..., 0] + 0.587 * sub[..., 1] + 0.114 * sub[..., 2]
    cb = 128 - 0.168736 * sub[..., 0] - 0.331264 * sub[..., 1] + 0.5 * sub[..., 2]
    cr = 128 + 0.5 * sub[..., 0] - 0.418688 * sub[..., 1] - 0.081312 * sub[..., 2]
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    ql = np.clip(np.floor((_Q_LUMA * scale + 50) / 100), 1, 255)
    qc = np.clip(np.floor((_Q_CHROMA * scale + 50) / 100), 1, 255)
    y = _dct_quant(y - 128, ql) + 128
    # 4:2:0: chroma averaged over 2x2, coded at half resolution, then upsampled
    cbs = cb.reshape(bh // 2, 2, bw // 2, 2).mean(axis=(1, 3))
    crs = cr.reshape(bh // 2, 2, bw // 2, 2).mean(axis=(1, 3))
    cbs = _dct_quant(cbs - 128, qc) + 128
    crs = _dct_quant(crs - 128, qc) + 128
    cb = np.repeat(np.repeat(cbs, 2, axis=0), 2, axis=1)
    cr = np.repeat(np.repeat(crs, 2, axis=0), 2, axis=1)
    r = y + 1.402 * (cr - 128)
    g = y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128)
    b = y + 1.772 * (cb - 128)
    out = rgb.copy()
    out[oy : oy + bh, ox : ox + bw] = np.stack([r, g, b], axis=-1)
    return out


def _dct_quant(a: np.ndarray, q: np.ndarray) -> np.ndarray:
    h, w = a.shape
    hb, wb = h // 8 * 8, w // 8 * 8
    blocks = a[:hb, :wb].reshape(hb // 8, 8, wb // 8, 8).transpose(0, 2, 1, 3)
    coef = dctn(blocks, axes=(2, 3), norm="ortho")
    coef = np.round(coef / q) * q
    rec = idctn(coef, axes=(2, 3), norm="ortho").transpose(0, 2, 1, 3).reshape(hb, wb)
    out = a.copy()
    out[:hb, :wb] = rec
    return out
