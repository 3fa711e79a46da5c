"""Checks shared by the op tests: second-order gradients against central differences of the
first-order tape gradient, and float32 runs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from helpers import assert_matches_fd

import autograd_lite as al


def first_order(fn: Callable[..., al.Tensor], arrays: list[np.ndarray],
                weights: np.ndarray) -> list[np.ndarray]:
    """The tape's (first-order) gradient of sum(w * fn(...)) for every input, as arrays."""
    tensors = [al.Tensor(a, requires_grad=np.asarray(a).dtype.kind == "f") for a in arrays]
    out = fn(*tensors)
    out.backward(weights.astype(out.dtype))
    return [t.grad if t.grad is not None else np.zeros(np.shape(a))
            for t, a in zip(tensors, arrays)]


def _first_order_of_all(fn: Callable[..., al.Tensor], arrays: list[np.ndarray],
                 weights: np.ndarray) -> list[np.ndarray]:
    """The plain (first-order) tape gradient of Σ w·fn(...) in every float input."""
    tensors = [al.Tensor(a, requires_grad=np.asarray(a).dtype.kind == "f") for a in arrays]
    out = (fn(*tensors) * weights).sum()
    wanted = [t for t in tensors if t.requires_grad]
    grads = iter(al.grad(out, wanted, allow_unused=True))
    return [np.zeros(np.shape(a)) if not t.requires_grad else _or_zeros(next(grads), a)
            for t, a in zip(tensors, arrays)]


def _or_zeros(g: object, a: np.ndarray) -> np.ndarray:
    return np.zeros(np.shape(a)) if g is None else np.asarray(al.tensor.raw(g), np.float64)


def assert_second_order_matches_fd(fn: Callable[..., al.Tensor], arrays: list[np.ndarray],
                                   seed: int = 0, tol: float = 1e-5) -> None:
    """For random output weights w and directions v: the gradient of ⟨∇(Σ w·fn), v⟩, taken
    through the graph that create_graph=True recorded, equals (∇(x + hv) − ∇(x − hv)) / 2h of
    the first-order gradient (float64; error O(h²) of the third derivative's scale)."""
    rng = np.random.default_rng(seed)
    arrays = [np.array(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else a
              for a in arrays]
    floats = [np.asarray(a).dtype.kind == "f" for a in arrays]
    with al.no_grad():
        shape = fn(*[al.Tensor(a) for a in arrays]).shape
    weights = rng.standard_normal(shape)
    directions = [rng.standard_normal(np.shape(a)) if f else None for a, f in zip(arrays, floats)]
    tensors = [al.Tensor(a, requires_grad=f) for a, f in zip(arrays, floats)]
    leaves = [t for t in tensors if t.requires_grad]
    grads = al.grad((fn(*tensors) * weights).sum(), leaves, create_graph=True, allow_unused=True)
    directional = al.Tensor(0.0)
    for g, v in zip(grads, [d for d in directions if d is not None]):
        if isinstance(g, al.Tensor):
            directional = directional + (g * v).sum()
    if directional.requires_grad:
        hvp = [_or_zeros(h, t.data) for h, t in
               zip(al.grad(directional, leaves, allow_unused=True), leaves)]
    else:  # the gradient does not depend on the inputs: the second derivative is zero
        hvp = [np.zeros(t.shape) for t in leaves]
    h = np.finfo(np.float64).eps ** (1 / 3)
    up = _first_order_of_all(fn, [a + h * d if d is not None else a
                           for a, d in zip(arrays, directions)], weights)
    down = _first_order_of_all(fn, [a - h * d if d is not None else a
                             for a, d in zip(arrays, directions)], weights)
    numeric = [(u - d) / (2 * h) for u, d, f in zip(up, down, floats) if f]
    for i, (tape, expected) in enumerate(zip(hvp, numeric)):
        scale = max(1.0, float(np.abs(expected).max(initial=0)))
        err = float(np.abs(tape - expected).max(initial=0)) / scale
        assert err < tol, f"input {i}: second-order error {err:.3g}\ntape {tape}\nfd {expected}"


def assert_float32_keeps_dtype(fn: Callable[..., al.Tensor], arrays: list[np.ndarray]) -> None:
    """With float32 inputs the output and the gradients stay float32 and match central
    differences (computed in float64) to float32 accuracy."""
    single = [np.asarray(a, np.float32) if np.asarray(a).dtype.kind == "f" else a
              for a in arrays]
    with al.no_grad():
        out = fn(*[al.Tensor(a) for a in single])
    assert out.dtype == np.float32, out.dtype
    assert_matches_fd(fn, single)


def check_all(fn: Callable[..., al.Tensor], arrays: list[np.ndarray], float32: bool = True,
              second: bool = True) -> None:
    """First order (float64 and float32) and second order against central differences."""
    assert_matches_fd(fn, arrays)
    if float32:
        assert_float32_keeps_dtype(fn, arrays)
    if second:
        assert_second_order_matches_fd(fn, arrays)
