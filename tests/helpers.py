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


def call_op(op: al.Op, inputs: list, **settings: object) -> al.Tensor:
    """``op`` applied to ``inputs`` (given as one sequence to ops that take one, as stack)."""
    return op(list(inputs), **settings) if op.sequence else op(*inputs, **settings)


def jvp_of_rule(op: al.Op, arrays: list[np.ndarray], tangents: list[np.ndarray | None],
                **settings: object) -> np.ndarray:
    """The output tangent that ``op``'s JVP rule gives for these input tangents (None: that input
    has no tangent), called directly on arrays (no forward-mode engine involved)."""
    with al.no_grad():
        out = call_op(op, [al.Tensor(a) for a in arrays], **settings).data
    if op.jvp is not None:
        result = op.jvp(tuple(tangents), out, *arrays, **settings)
        total = np.zeros(out.shape) if result is None else np.asarray(al.tensor.raw(result))
    else:
        assert op.jvps is not None, f"op '{op.name}' has no JVP rule"
        total = np.zeros(out.shape)
        for rule, t in zip(op.jvps, tangents):
            if t is not None and rule is not None:
                total = total + np.asarray(al.tensor.raw(rule(t, out, *arrays, **settings)))
    return np.broadcast_to(total, out.shape)


def assert_jvp_matches_fd(op: al.Op, arrays: list[np.ndarray], seed: int = 0,
                          **settings: object) -> None:
    """``op``'s JVP rule, for random tangents on every float input, equals the central difference
    (f(x + h t) − f(x − h t)) / 2h (float64; error O(h²) ≈ 1e-10 of the function's scale), and
    satisfies the transposition identity ⟨JVP(t), u⟩ = ⟨t, VJP(u)⟩ against the tape."""
    rng = np.random.default_rng(seed)
    base = [np.array(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else a
            for a in arrays]
    tangents = [rng.standard_normal(np.shape(a)) if np.asarray(a).dtype.kind == "f" else None
                for a in base]
    jvp = jvp_of_rule(op, base, tangents, **settings)
    h = np.finfo(np.float64).eps ** (1 / 3)

    def at(sign: float) -> np.ndarray:
        moved = [a if t is None else a + sign * h * t for a, t in zip(base, tangents)]
        with al.no_grad():
            return np.asarray(call_op(op, [al.Tensor(m) for m in moved], **settings).data,
                              np.float64)

    numeric = (at(1.0) - at(-1.0)) / (2 * h)
    scale = max(1.0, float(np.abs(numeric).max(initial=0)))
    err = float(np.abs(jvp - numeric).max(initial=0)) / scale
    assert err < 1e-6, f"{op.name}: JVP off by {err:.3g} (rule {jvp}, central difference {numeric})"
    # ⟨JVP(t), u⟩ = ⟨t, VJP(u)⟩: the rule is the transpose of the tape's VJP
    tensors = [al.Tensor(a, requires_grad=t is not None) for a, t in zip(base, tangents)]
    out = call_op(op, tensors, **settings)
    u = rng.standard_normal(out.shape)
    out.backward(u)
    left = float(np.sum(jvp * u))
    right = float(sum(np.sum(t * x.grad) for t, x in zip(tangents, tensors) if t is not None))
    assert abs(left - right) <= 1e-8 * max(1.0, abs(left), abs(right)), (op.name, left, right)


class Samples:
    """Seeded test inputs: ``samples = Samples(seed)``, then ``samples.normal(3, 4)`` …"""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def normal(self, *shape: int) -> np.ndarray:
        return self.rng.standard_normal(shape)

    def positive(self, *shape: int) -> np.ndarray:
        return self.rng.uniform(0.5, 2.0, shape)

    def away_from_zero(self, *shape: int) -> np.ndarray:
        """Values with |x| >= 0.2: away from the kinks of abs and relu."""
        return self.rng.uniform(0.2, 2.0, shape) * self.rng.choice([-1.0, 1.0], shape)

    def distinct(self, *shape: int) -> np.ndarray:
        """Values without ties (max and min are differentiable there)."""
        return (self.rng.permutation(int(np.prod(shape))).reshape(shape) * 0.37
                + self.normal(*shape) * 0.01)
