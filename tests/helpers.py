"""Test helpers that do not rely on the library's own checker: an independent central-difference
gradient, and tolerances for it that follow from the step and the dtype."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import autograd_lite as al


def fd_gradient(f: Callable[..., float], arrays: list[np.ndarray], i: int,
                h: float | None = None) -> np.ndarray:
    """Central differences of the float-valued ``f(*arrays)`` in argument ``i``, in float64."""
    base = [np.array(a, dtype=np.float64) for a in arrays]
    h = h if h is not None else np.finfo(np.float64).eps ** (1 / 3)
    x = base[i]
    grad = np.zeros_like(x)
    for j in np.ndindex(*x.shape):
        old = x[j]
        x[j] = old + h
        up = f(*base)
        x[j] = old - h
        down = f(*base)
        x[j] = old
        grad[j] = (up - down) / (2 * h)
    return grad


def scalar_of(fn: Callable[..., al.Tensor], weights: np.ndarray | None = None
              ) -> Callable[..., float]:
    """float(sum(w * fn(*tensors))) on plain arrays, with a fixed weighting w."""
    def value(*arrays: np.ndarray) -> float:
        with al.no_grad():
            out = fn(*[al.Tensor(a) for a in arrays]).data
        w = np.ones(np.shape(out)) if weights is None else weights
        return float(np.sum(np.asarray(out, np.float64) * w))
    return value


def tape_gradients(fn: Callable[..., al.Tensor], arrays: list[np.ndarray],
                   weights: np.ndarray | None = None) -> list[np.ndarray]:
    tensors = [al.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    seed = np.ones(out.shape) if weights is None else weights
    out.backward(seed.astype(out.dtype))
    return [t.grad for t in tensors]


def assert_matches_fd(fn: Callable[..., al.Tensor], arrays: list[np.ndarray],
                      seed: int = 0) -> None:
    """The tape's gradient of sum(w * fn(...)) equals central differences, for a random w.

    Tolerance: with h = u^(1/3) the difference quotient is off by O(h² + u/h) ≈ 7e-11 times the
    function's scale; we allow 1e-6 relative to max(1, |g|) (float64) and 2e-2 for float32."""
    with al.no_grad():
        out_shape = fn(*[al.Tensor(a) for a in arrays]).shape
    weights = np.random.default_rng(seed).standard_normal(out_shape)
    tape = tape_gradients(fn, arrays, weights)
    value = scalar_of(fn, weights)
    for i, a in enumerate(arrays):
        if np.asarray(a).dtype.kind != "f":
            continue
        numeric = fd_gradient(value, arrays, i)
        assert tape[i] is not None, f"input {i} got no gradient"
        assert tape[i].shape == np.shape(a), (tape[i].shape, np.shape(a))
        assert tape[i].dtype == np.asarray(a).dtype, (tape[i].dtype, np.asarray(a).dtype)
        tol = 1e-6 if np.asarray(a).dtype == np.float64 else 2e-2
        scale = max(1.0, float(np.abs(numeric).max(initial=0)))
        err = float(np.abs(tape[i] - numeric).max(initial=0)) / scale
        assert err < tol, f"input {i}: relative error {err:.3g} (tape {tape[i]}, fd {numeric})"
