"""Checks shared by the tests of the shape, product and linear-algebra ops: second-order
gradients against central differences of the first-order tape gradient, and float32 runs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from helpers import assert_matches_fd, fd_gradient

import autograd_lite as al


def first_order(fn: Callable[..., al.Tensor], arrays: list[np.ndarray],
                weights: np.ndarray) -> list[np.ndarray]:
    """The tape's (first-order) gradient of sum(w * fn(...)) for every input, as arrays."""
    tensors = [al.Tensor(a, requires_grad=np.asarray(a).dtype.kind == "f") for a in arrays]
    out = fn(*tensors)
    out.backward(weights.astype(out.dtype))
    return [t.grad if t.grad is not None else np.zeros(np.shape(a))
            for t, a in zip(tensors, arrays)]


def assert_second_order_matches_fd(fn: Callable[..., al.Tensor], arrays: list[np.ndarray],
                                   seed: int = 1, tol: float = 1e-6) -> None:
    """Differentiate the create_graph=True gradient of sum(w₁ * fn) again, as
    sum(w₂ * grad), and compare with central differences of the first-order tape gradient
    (a Hessian-vector product checked independently of the second-order machinery)."""
    rng = np.random.default_rng(seed)
    with al.no_grad():
        out_shape = fn(*[al.Tensor(a) for a in arrays]).shape
    w1 = rng.standard_normal(out_shape)
    w2 = [rng.standard_normal(np.shape(a)) for a in arrays]
    floats = [i for i, a in enumerate(arrays) if np.asarray(a).dtype.kind == "f"]
    tensors = [al.Tensor(a, requires_grad=i in floats) for i, a in enumerate(arrays)]
    out = fn(*tensors)
    grads = al.grad(out, [tensors[i] for i in floats], grad_outputs=w1, create_graph=True)
    total = None
    for i, g in zip(floats, grads):
        term = al.sum(g * w2[i]) if isinstance(g, al.Tensor) else al.Tensor(np.sum(g * w2[i]))
        total = term if total is None else total + term
    if total.requires_grad:
        second = al.grad(total, [tensors[i] for i in floats], allow_unused=True)
    else:  # the gradient does not depend on the inputs: a zero second derivative
        second = [None] * len(floats)

    def hvp_value(*arrs: np.ndarray) -> float:
        first = first_order(fn, list(arrs), w1)
        return float(sum(np.sum(first[i] * w2[i]) for i in floats))

    for i, tape in zip(floats, second):
        tape = np.zeros(np.shape(arrays[i])) if tape is None else np.asarray(al.tensor.raw(tape))
        numeric = fd_gradient(hvp_value, arrays, i)
        scale = max(1.0, float(np.abs(numeric).max(initial=0)))
        err = float(np.abs(tape - numeric).max(initial=0)) / scale
        assert err < tol, f"input {i}: second-order error {err:.3g}\ntape {tape}\nfd {numeric}"


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
