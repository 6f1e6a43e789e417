"""The accuracy of the float32 elementwise functions the proofs' rounding model rests on, measured on this machine.

certify.py and interval_step.py allow every elementwise float32 result 8 units of round-off (8u, u = 2^-24)
relative to its magnitude, plus 1e-37 absolute below the normal range. The runtime computes sigmoid as
1 / (1 + exp(-z)) and tanh with numpy's float32 np.exp and np.tanh (SIMD code chosen by the CPU). This script
measures, over every ``stride``-th float32 by bit pattern (every binade sampled alike), against float64:
the max error of np.exp and np.tanh in ulps of the exact result, and the max relative error of the float32
sigmoid in units of u (where the exact value is a normal float32; the absolute error elsewhere).

Run: python bench/rounding_accuracy.py [STRIDE]   (default 7; 1 reads every float, ~10 times as long)
"""

from __future__ import annotations

import sys

import numpy as np

U = 2.0 ** -24
CHUNK = 1 << 22


def floats(lo: float, hi: float, stride: int) -> np.ndarray:
    """Every ``stride``-th float32 in [lo, hi], by bit pattern."""
    def key(x: float) -> int:
        i = int(np.array(x, np.float32).view(np.int32))
        return -(i & 0x7FFFFFFF) if i < 0 else i
    k = np.arange(key(lo), key(hi) + 1, stride, dtype=np.int64)
    return np.where(k < 0, (-k) | 0x80000000, k).astype(np.uint32).view(np.float32)


def ulp_of(exact: np.ndarray) -> np.ndarray:
    """The spacing of float32 at |exact| (2^-149 in the subnormal range)."""
    a = np.abs(exact)
    e = np.floor(np.log2(np.maximum(a, 2.0 ** -126)))
    return np.where(a < 2.0 ** -126, 2.0 ** -149, 2.0 ** (e - 23))


def worst(f32, f64, lo: float, hi: float, stride: int, relative: bool) -> tuple[float, float, float, int]:
    """(max error in ulps or u, argument, max absolute error where the exact value is subnormal, floats read)."""
    xs = floats(lo, hi, stride)
    best, where, tiny = 0.0, float("nan"), 0.0
    for s in range(0, xs.size, CHUNK):
        x = xs[s:s + CHUNK]
        with np.errstate(all="ignore"):
            got, exact = f32(x).astype(np.float64), f64(x.astype(np.float64))
        finite = np.isfinite(exact) & (np.abs(exact) <= float(np.finfo(np.float32).max))
        normal = finite & (np.abs(exact) >= 2.0 ** -126)
        scale = np.abs(exact) * U if relative else ulp_of(exact)
        err = np.where(normal, np.abs(got - exact) / np.where(normal, scale, 1.0), 0.0)
        k = int(np.argmax(err))
        if err[k] > best:
            best, where = float(err[k]), float(x[k])
        sub = finite & ~normal
        if sub.any():
            tiny = max(tiny, float(np.abs(got - exact)[sub].max()))
    return best, where, tiny, xs.size


def main(stride: int = 7) -> None:
    sig32 = lambda z: np.float32(1) / (np.float32(1) + np.exp(-z))  # noqa: E731  the runtime's sigmoid
    sig64 = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    rows = [("np.exp float32", np.exp, np.exp, -104.0, 88.72, False, "ulp"),
            ("np.tanh float32", np.tanh, np.tanh, -12.0, 12.0, False, "ulp"),
            ("sigmoid 1/(1+exp(-z)) float32", sig32, sig64, -104.0, 30.0, True, "u"),
            ("np.tanh float32", np.tanh, np.tanh, -12.0, 12.0, True, "u")]
    print(f"numpy {np.__version__}; every {stride}th float32 by bit pattern")
    for name, f32, f64, lo, hi, relative, unit in rows:
        best, where, tiny, n = worst(f32, f64, lo, hi, stride, relative)
        print(f"{name} on [{lo}, {hi}] ({n:,} floats): max {best:.3f} {unit} (at {where!r}); "
              f"max absolute error where the result is subnormal or 0: {tiny:.3g}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
