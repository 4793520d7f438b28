"""Coordinate-hashed noise: the same value at the same absolute pixel, whichever block asks.

A city is rendered block by block, so no texture may come from a stateful random generator
walking over the block: that would make the picture depend on the block size and leave
seams. Every random texture here is a pure function of (absolute x, absolute y, seed).
"""

from __future__ import annotations

import numpy as np

_M1 = np.uint32(0x7FEB352D)
_M2 = np.uint32(0x846CA68B)


def _mix(h: np.ndarray) -> np.ndarray:
    """lowbias32 integer hash (Chris Wellons): good avalanche, pure uint32 arithmetic."""
    h = h ^ (h >> np.uint32(16))
    h = h * _M1
    h = h ^ (h >> np.uint32(15))
    h = h * _M2
    h = h ^ (h >> np.uint32(16))
    return h


def hash2(ix: np.ndarray, iy: np.ndarray, seed: int) -> np.ndarray:
    """Uniform [0, 1) float32 from integer lattice coordinates and a seed."""
    with np.errstate(over="ignore"):
        x = np.asarray(ix).astype(np.int64).astype(np.uint32)
        y = np.asarray(iy).astype(np.int64).astype(np.uint32)
        s = np.uint32(seed & 0xFFFFFFFF)
        h = _mix(x ^ _mix(y ^ _mix(np.full_like(x, s) if x.ndim else s)))
    return (h >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / (1 << 24))


def white(x0: int, y0: int, h: int, w: int, seed: int) -> np.ndarray:
    """Per-pixel uniform noise in [-1, 1) for the window at absolute (x0, y0)."""
    iy, ix = np.mgrid[y0 : y0 + h, x0 : x0 + w]
    return hash2(ix, iy, seed) * 2.0 - 1.0


def gaussian(x0: int, y0: int, h: int, w: int, seed: int) -> np.ndarray:
    """Per-pixel standard normal noise (Box-Muller on two hashed uniforms)."""
    iy, ix = np.mgrid[y0 : y0 + h, x0 : x0 + w]
    u1 = hash2(ix, iy, seed) * 0.9999 + 1e-6
    u2 = hash2(ix, iy, seed ^ 0x5BD1E995)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def value(x0: int, y0: int, h: int, w: int, cell: float, seed: int) -> np.ndarray:
    """Smooth value noise in [-1, 1] with lattice spacing `cell` pixels (absolute grid)."""
    cell = max(float(cell), 1.0)
    xs = (np.arange(x0, x0 + w, dtype=np.float64) + 0.5) / cell
    ys = (np.arange(y0, y0 + h, dtype=np.float64) + 0.5) / cell
    ix = np.floor(xs).astype(np.int64)
    iy = np.floor(ys).astype(np.int64)
    fx = (xs - ix).astype(np.float32)
    fy = (ys - iy).astype(np.float32)
    fx = fx * fx * (3 - 2 * fx)
    fy = fy * fy * (3 - 2 * fy)
    # Hash only the lattice points this window touches, then interpolate.
    lx = np.arange(ix.min(), ix.max() + 2)
    ly = np.arange(iy.min(), iy.max() + 2)
    grid = hash2(lx[None, :], ly[:, None], seed) * 2.0 - 1.0
    gx = ix - lx[0]
    gy = iy - ly[0]
    a = grid[np.ix_(gy, gx)]
    b = grid[np.ix_(gy, gx + 1)]
    c = grid[np.ix_(gy + 1, gx)]
    d = grid[np.ix_(gy + 1, gx + 1)]
    top = a + (b - a) * fx[None, :]
    bot = c + (d - c) * fx[None, :]
    return top + (bot - top) * fy[:, None]


def fbm(x0: int, y0: int, h: int, w: int, cell: float, seed: int, octaves: int = 3) -> np.ndarray:
    """Fractal sum of value noise, roughly in [-1, 1]."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for k in range(octaves):
        if cell / (2**k) < 1.0:
            break
        out += amp * value(x0, y0, h, w, cell / (2**k), seed + 7919 * k)
        total += amp
        amp *= 0.5
    return out / max(total, 1e-6)
