"""Fuzzing the engine: random expression DAGs drawn from the op registry, every leaf's tape
gradient checked against independent central differences (and Hessian-vector products for the
smooth ops). CI runs a bounded, derandomised number of examples; a long campaign is

    HYPOTHESIS_PROFILE=campaign python -m pytest tests/test_fuzz.py -s

which prints how often each op was drawn.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from helpers import fd_gradient
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import autograd_lite as al

DRAWN: Counter[str] = Counter()
EXAMPLES: Counter[str] = Counter()
MARGIN = 1e-3  # distance kept from kinks (abs, relu) and ties (max, min)
BOUND = 30.0  # values are kept below this, so exp and friends stay well-conditioned


@dataclass
class Program:
    """Leaves, then steps (op name, operand positions, settings), each adding one value."""

    leaves: list[np.ndarray]
    steps: list[tuple[str, tuple[int, ...], dict[str, Any]]] = field(default_factory=list)
    weights: dict[int, np.ndarray] = field(default_factory=dict)

    def run(self, leaves: list[Any]) -> Any:
        values = list(leaves)
        for name, operands, settings in self.steps:
            values.append(APPLY[name](*[values[i] for i in operands], **settings))
        total = 0.0
        for position, weight in self.weights.items():
            total = total + (values[position] * weight).sum()
        return total


def _smooth_unary(fn: Callable[[Any], Any], ok: Callable[[np.ndarray], bool] = lambda x: True):
    return fn, ok


APPLY: dict[str, Callable[..., Any]] = {
    "exp": al.exp, "log": al.log, "sqrt": al.sqrt, "tanh": al.tanh, "sigmoid": al.sigmoid,
    "neg": al.neg, "abs": al.abs, "relu": al.relu,
    "pow": lambda x, exponent: al.pow(x, exponent),
    "pow_tensor": lambda x, y: al.pow(x, y),
    "add": al.add, "sub": al.sub, "mul": al.mul, "div": al.div,
    "matmul": al.matmul,
    "sum": lambda x, **k: al.sum(x, **k), "mean": lambda x, **k: al.mean(x, **k),
    "max": lambda x, **k: al.max(x, **k), "min": lambda x, **k: al.min(x, **k),
    "logsumexp": lambda x, **k: al.logsumexp(x, **k),
    "softmax": lambda x, axis: al.softmax(x, axis=axis),
    "log_softmax": lambda x, axis: al.log_softmax(x, axis=axis),
    "softmax_cross_entropy": lambda x, labels, axis, reduction: al.softmax_cross_entropy(
        x, labels, axis=axis, reduction=reduction),
    # a probability target computed from the program's values: it requires grad, and the first
    # and second order flow into it too (issue 17)
    "softmax_cross_entropy_soft": lambda x, scores, axis, reduction: al.softmax_cross_entropy(
        x, al.softmax(scores, axis=axis), axis=axis, reduction=reduction),
    "reshape": lambda x, shape: al.reshape(x, shape=shape),
    "transpose": lambda x, axes: al.transpose(x, axes=axes),
    "broadcast_to": lambda x, shape: al.broadcast_to(x, shape=shape),
    "getitem": lambda x, index: al.getitem(x, index=index),
    "scatter_add": lambda x, index, shape: al.scatter_add(x, index=index, shape=shape),
    "stack": lambda a, b, axis: al.stack([a, b], axis=axis),
    "concatenate": lambda a, b, axis: al.concatenate([a, b], axis=axis),
}
NOT_SMOOTH = {"abs", "relu", "max", "min"}


def _unary_ok(name: str, x: np.ndarray) -> bool:
    if name in ("log", "sqrt"):
        return x.size > 0 and float(x.min()) > 0.1
    if name in ("abs", "relu"):
        return x.size > 0 and float(np.abs(x).min()) > MARGIN
    if name == "exp":
        return float(np.abs(x).max(initial=0)) < 3
    return True


def _no_ties(x: np.ndarray, axis: int | None) -> bool:
    if x.size == 0:
        return False
    arranged = np.sort(x.reshape(-1) if axis is None else np.moveaxis(x, axis, -1), axis=-1)
    if arranged.shape[-1] < 2:
        return True
    return bool(np.all(np.diff(arranged, axis=-1) > MARGIN))


@st.composite
def programs(draw: st.DrawFn, smooth_only: bool = False, max_steps: int = 7) -> Program:
    shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)
    count = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    leaves = [rng.standard_normal(draw(shapes)) for _ in range(count)]
    program = Program(leaves)
    values = list(leaves)
    names = sorted(set(APPLY) - (NOT_SMOOTH if smooth_only else set()))
    for _ in range(draw(st.integers(1, max_steps))):
        for _attempt in range(8):
            name = draw(st.sampled_from(names))
            choice = _propose(draw, rng, name, values)
            if choice is None:
                continue
            operands, settings = choice
            with np.errstate(all="ignore"):
                try:
                    out = np.asarray(APPLY[name](*[values[i] for i in operands], **settings))
                except al.AutogradLiteError:
                    continue
            if out.size == 0 or not np.all(np.isfinite(out)) or np.abs(out).max() > BOUND:
                continue
            program.steps.append((name, operands, settings))
            values.append(out)
            DRAWN[name] += 1
            break
    used = {i for _, operands, _ in program.steps for i in operands}
    sinks = [i for i in range(len(values)) if i not in used] or [len(values) - 1]
    for position in sinks:
        program.weights[position] = rng.standard_normal(np.shape(values[position]))
    return program


def _propose(draw: st.DrawFn, rng: np.random.Generator, name: str,
             values: list[np.ndarray]) -> tuple[tuple[int, ...], dict[str, Any]] | None:
    """Operands (positions) and settings for ``name``, or None when nothing fits."""
    i = draw(st.integers(0, len(values) - 1))
    x = values[i]
    axis = draw(st.integers(-x.ndim, x.ndim - 1)) if x.ndim else None
    if name in ("exp", "log", "sqrt", "tanh", "sigmoid", "neg", "abs", "relu"):
        return ((i,), {}) if _unary_ok(name, x) else None
    if name == "pow":
        exponent = draw(st.sampled_from([2, 3, 0.5, -1.0]))
        if exponent in (0.5, -1.0) and not (x.size and float(x.min()) > 0.2):
            return None
        return (i,), {"exponent": exponent}
    if name in ("add", "sub", "mul", "div", "pow_tensor", "matmul", "stack", "concatenate",
                "softmax_cross_entropy_soft"):
        j = draw(st.integers(0, len(values) - 1))
        y = values[j]
        if name == "softmax_cross_entropy_soft":
            if x.ndim == 0 or x.shape != y.shape:
                return None
            return (i, j), {"axis": axis,
                            "reduction": draw(st.sampled_from(["mean", "sum", "none"]))}
        if name == "matmul":
            if x.ndim == 0 or y.ndim == 0:
                return None
            inner = y.shape[-2] if y.ndim > 1 else y.shape[0]
            if x.shape[-1] != inner:
                return None
            try:
                np.broadcast_shapes(x.shape[:-2], y.shape[:-2])
            except ValueError:
                return None
            return (i, j), {}
        if name in ("stack", "concatenate"):
            if x.shape != y.shape or (name == "concatenate" and x.ndim == 0):
                return None
            return (i, j), {"axis": int(draw(st.integers(0, x.ndim if name == "stack"
                                                         else x.ndim - 1)))}
        try:
            np.broadcast_shapes(x.shape, y.shape)
        except ValueError:
            return None
        if name == "div" and not (y.size and float(np.abs(y).min()) > 0.3):
            return None
        if name == "pow_tensor" and not (x.size and float(x.min()) > 0.2):
            return None
        return (i, j), {}
    if name in ("sum", "mean", "max", "min", "logsumexp"):
        keepdims = draw(st.booleans())
        reduce_axis = axis if draw(st.booleans()) else None
        if name in ("max", "min") and not _no_ties(x, reduce_axis):
            return None
        return (i,), {"axis": reduce_axis, "keepdims": keepdims}
    if name in ("softmax", "log_softmax"):
        return ((i,), {"axis": axis}) if x.ndim else None
    if name == "softmax_cross_entropy":
        if x.ndim == 0:
            return None
        rows = x.shape[:axis % x.ndim] + x.shape[axis % x.ndim + 1:]
        labels = rng.integers(0, x.shape[axis], size=rows)
        return (i,), {"labels": labels, "axis": axis,
                      "reduction": draw(st.sampled_from(["mean", "sum", "none"]))}
    if name == "reshape":
        return (i,), {"shape": draw(st.sampled_from([(-1,), (1, -1), x.shape[::-1]]))}
    if name == "transpose":
        return (i,), {"axes": tuple(rng.permutation(x.ndim).tolist()) if x.ndim else None}
    if name == "broadcast_to":
        return (i,), {"shape": (2, *x.shape)}
    if name == "getitem":
        if x.ndim == 0:
            return None
        kind = draw(st.sampled_from(["repeat", "slice", "mask"]))
        if kind == "repeat":
            return (i,), {"index": rng.integers(0, x.shape[0], size=4)}
        if kind == "mask":
            mask = rng.random(x.shape) < 0.6
            return ((i,), {"index": mask}) if mask.any() else None
        return (i,), {"index": (slice(None, None, -1),) + (slice(0, None, 2),) * (x.ndim - 1)}
    if name == "scatter_add":
        if x.ndim == 0:
            return None
        target = (x.shape[0] + 1, *x.shape[1:])
        return (i,), {"index": rng.integers(0, target[0], size=x.shape[0]), "shape": target}
    raise AssertionError(f"no proposal for {name}")


# --- NumPy functions on tensors: programs also call np.* (and ndarray operators), which
# the dispatch records as autograd_lite ops; the element-wise, special and reduction ops join too.
def _spread_ok(x: np.ndarray, axis: int | None) -> bool:
    """At least two elements per reduced group, not all equal (std's kink at zero spread)."""
    groups = x.reshape(1, -1) if axis is None else np.moveaxis(x, axis, -1)
    return groups.shape[-1] >= 2 and bool(np.all(np.ptp(groups, axis=-1) > MARGIN))


NUMPY_UNARY = {"np.sin": np.sin, "np.cos": np.cos, "np.arctan": np.arctan, "np.tanh": np.tanh,
               "np.square": np.square, "np.sinh": np.sinh, "np.exp": np.exp,
               "np.expm1": np.expm1, "np.log1p": np.log1p, "np.erf": al.special.erf,
               "np.softplus": al.special.softplus}
NUMPY_BINARY = {"np.add": np.add, "np.multiply": np.multiply, "np.logaddexp": np.logaddexp,
                "np.hypot": np.hypot, "np.arctan2": np.arctan2, "np.maximum": np.maximum,
                "ndarray+": lambda x, y: np.asarray(y) + x}
NUMPY_REDUCE = {"np.sum": np.sum, "np.mean": np.mean, "np.prod": np.prod, "np.var": np.var,
                "np.std": np.std}
NUMPY_SCAN = {"np.cumsum": np.cumsum, "np.cumprod": np.cumprod}
APPLY.update(NUMPY_UNARY)
APPLY.update(NUMPY_BINARY)


def _with_settings(f: Callable[..., Any]) -> Callable[..., Any]:
    return lambda x, **settings: f(x, **settings)


APPLY.update({name: _with_settings(f) for name, f in {**NUMPY_REDUCE, **NUMPY_SCAN}.items()})
APPLY.update({
    "np.where": lambda x, y, condition: np.where(condition, x, y),
    "np.clip": lambda x, low, high: np.clip(x, low, high),
    "np.stack": lambda a, b, axis: np.stack([a, b], axis=axis),
    "np.trace": lambda x: np.trace(x),
})
NOT_SMOOTH |= {"np.maximum", "np.clip"}
_propose_without_numpy = _propose


def _propose(draw: st.DrawFn, rng: np.random.Generator, name: str,
             values: list[np.ndarray]) -> tuple[tuple[int, ...], dict[str, Any]] | None:
    """Operands and settings for the NumPy calls; the other names as before."""
    if not name.startswith(("np.", "ndarray")):
        return _propose_without_numpy(draw, rng, name, values)
    i = draw(st.integers(0, len(values) - 1))
    x = values[i]
    if name in NUMPY_UNARY:
        if name in ("np.exp", "np.sinh", "np.expm1") and float(np.abs(x).max(initial=0)) > 3:
            return None
        if name == "np.log1p" and not (x.size and float(x.min()) > -0.5):
            return None
        return (i,), {}
    if name in NUMPY_BINARY:
        j = draw(st.integers(0, len(values) - 1))
        y = values[j]
        try:
            a, b = np.broadcast_arrays(x, y)
        except ValueError:
            return None
        if name == "ndarray+":
            return (i,), {"y": rng.standard_normal(y.shape)}
        if name in ("np.hypot", "np.arctan2") and not np.all(np.hypot(a, b) > 0.3):
            return None
        if name == "np.maximum" and not np.all(np.abs(a - b) > MARGIN):
            return None
        return (i, j), {}
    axis = draw(st.integers(-x.ndim, x.ndim - 1)) if x.ndim else None
    if name in NUMPY_REDUCE:
        reduce_axis = axis if draw(st.booleans()) else None
        if name in ("np.var", "np.std") and not _spread_ok(x, reduce_axis):
            return None
        return (i,), {"axis": reduce_axis, "keepdims": draw(st.booleans())}
    if name in NUMPY_SCAN:
        return (i,), {"axis": axis}
    if name == "np.where":
        j = draw(st.integers(0, len(values) - 1))
        try:
            shape = np.broadcast_shapes(x.shape, values[j].shape)
        except ValueError:
            return None
        return (i, j), {"condition": rng.random(shape) < 0.5}
    if name == "np.clip":
        low, high = sorted(rng.uniform(-1.5, 1.5, 2).tolist())
        near = np.minimum(np.abs(x - low), np.abs(x - high))
        return ((i,), {"low": low, "high": high}) if np.all(near > MARGIN) else None
    if name == "np.stack":
        j = draw(st.integers(0, len(values) - 1))
        if values[j].shape != x.shape:
            return None
        return (i, j), {"axis": int(draw(st.integers(0, x.ndim)))}
    if name == "np.trace":
        return ((i,), {}) if x.ndim >= 2 else None
    raise AssertionError(f"no proposal for {name}")
# --- end of NumPy functions on tensors


# --- Shapes, products and linear algebra through NumPy: linear rearrangements, products of
# two values, and the inverse and log-determinant of a well-conditioned matrix made from one.
def _spd(x: Any) -> Any:
    """x xᵀ + I over the last two axes of x (positive definite: safe to invert)."""
    return np.matmul(x, np.swapaxes(x, -1, -2)) + np.eye(x.shape[-2])


LAYOUT = {
    "np.flip": lambda x, axis: np.flip(x, axis), "np.roll": lambda x, axis: np.roll(x, 1, axis),
    "np.swapaxes": lambda x, axis: np.swapaxes(x, 0, axis),
    "np.repeat": lambda x, axis: np.repeat(x, 2, axis), "np.tile": lambda x: np.tile(x, 2),
    "np.triu": lambda x: np.triu(x), "np.expand_dims": lambda x, axis: np.expand_dims(x, axis),
    "np.linalg.inv": lambda x: np.linalg.inv(_spd(x)),
    "np.linalg.slogdet": lambda x: np.linalg.slogdet(_spd(x))[1],
}
PRODUCTS = {"np.outer": np.outer, "np.einsum": lambda a, b: np.einsum("ij,jk->ik", a, b),
            "np.kron": np.kron, "np.dot": np.dot}
APPLY.update(LAYOUT)
APPLY.update(PRODUCTS)
_propose_without_layout = _propose


def _propose(draw: st.DrawFn, rng: np.random.Generator, name: str,
             values: list[np.ndarray]) -> tuple[tuple[int, ...], dict[str, Any]] | None:
    """Operands and settings for the layout, product and linear-algebra calls."""
    if name not in LAYOUT and name not in PRODUCTS:
        return _propose_without_layout(draw, rng, name, values)
    i = draw(st.integers(0, len(values) - 1))
    x = values[i]
    if name in ("np.triu", "np.linalg.inv", "np.linalg.slogdet"):
        return ((i,), {}) if x.ndim >= 2 and x.shape[-1] >= 1 else None
    if name == "np.tile":
        return (i,), {}
    if name == "np.expand_dims":
        return (i,), {"axis": int(draw(st.integers(0, x.ndim)))}
    if name in LAYOUT:
        return ((i,), {"axis": int(draw(st.integers(0, x.ndim - 1)))}) if x.ndim else None
    j = draw(st.integers(0, len(values) - 1))
    y = values[j]
    if name == "np.einsum" and not (x.ndim == y.ndim == 2 and x.shape[1] == y.shape[0]):
        return None
    if name == "np.dot" and not (x.ndim == y.ndim == 1 and x.shape == y.shape):
        return None
    if name == "np.kron" and x.size * y.size > 36:
        return None
    return (i, j), {}
# --- end of shapes, products and linear algebra


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(1.0, float(np.abs(a).max(initial=0)), float(np.abs(b).max(initial=0)))
    return float(np.abs(a - b).max(initial=0)) / scale


def _value(program: Program) -> Callable[..., float]:
    def value(*arrays: np.ndarray) -> float:
        with al.no_grad():
            return float(np.asarray(al.Tensor(0.0) + program.run([al.Tensor(a) for a in arrays])
                                    ).reshape(()))
    return value


@given(programs())
def test_random_graphs_match_finite_differences(program: Program) -> None:
    tensors = [al.Tensor(leaf, requires_grad=True) for leaf in program.leaves]
    out = al.Tensor(0.0) + program.run(tensors)
    out.backward()
    value = _value(program)
    for i, tensor in enumerate(tensors):
        numeric = fd_gradient(value, program.leaves, i)
        tape = np.zeros(tensor.shape) if tensor.grad is None else tensor.grad
        assert tape.shape == tensor.shape
        error = _relative(tape, numeric)
        assert error < 1e-5, (f"leaf {i}: relative error {error:.3g}\n{program.steps}\n"
                              f"tape {tape}\nnumeric {numeric}")
    EXAMPLES["first order"] += 1


@given(programs(smooth_only=True, max_steps=5), st.integers(0, 2**16))
def test_random_smooth_graphs_second_order(program: Program, seed: int) -> None:
    """Hessian-vector products from create_graph=True against differences of the gradient."""
    rng = np.random.default_rng(seed)
    directions = [rng.standard_normal(leaf.shape) for leaf in program.leaves]

    def gradient(arrays: list[np.ndarray]) -> list[np.ndarray]:
        tensors = [al.Tensor(a, requires_grad=True) for a in arrays]
        grads = al.grad(al.Tensor(0.0) + program.run(tensors), tensors, allow_unused=True)
        return [np.zeros(a.shape) if g is None else g for g, a in zip(grads, arrays)]

    tensors = [al.Tensor(leaf, requires_grad=True) for leaf in program.leaves]
    grads = al.grad(al.Tensor(0.0) + program.run(tensors), tensors, create_graph=True,
                    allow_unused=True)
    pairs = [(g, v) for g, v in zip(grads, directions) if g is not None]
    if not pairs or not any(isinstance(g, al.Tensor) and g.requires_grad for g, _ in pairs):
        return  # the gradient does not depend on the leaves (a linear program)
    directional = al.Tensor(0.0)
    for g, v in pairs:
        directional = directional + (g * v).sum()
    hvp = al.grad(directional, tensors, allow_unused=True)
    h = np.finfo(np.float64).eps ** (1 / 3)
    up = gradient([a + h * v for a, v in zip(program.leaves, directions)])
    down = gradient([a - h * v for a, v in zip(program.leaves, directions)])
    for i, (tape, u, d) in enumerate(zip(hvp, up, down)):
        numeric = (u - d) / (2 * h)
        tape = np.zeros(numeric.shape) if tape is None else tape
        error = _relative(tape, numeric)
        assert error < 1e-5, f"leaf {i}: HVP relative error {error:.3g}\n{program.steps}"
    EXAMPLES["second order"] += 1


@hypothesis_settings(max_examples=15)
@given(programs(max_steps=5), st.booleans())
def test_concurrent_backward_passes_sum_exactly(program: Program, shared: bool) -> None:
    """Four threads, five backward passes each, into the same leaves: through one retained graph
    (``shared``) or each through its own. The leaves' .grad is 20 times one pass's gradient (a
    gradient the tests above check against finite differences)."""
    tensors = [al.Tensor(leaf, requires_grad=True) for leaf in program.leaves]
    once = al.grad(al.Tensor(0.0) + program.run(tensors), tensors, allow_unused=True)
    graph = al.Tensor(0.0) + program.run(tensors)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                if shared:
                    graph.backward(retain_graph=True)
                else:
                    (al.Tensor(0.0) + program.run(tensors)).backward()
        except BaseException as exc:  # (a thread's error would otherwise be lost)
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for tensor, g in zip(tensors, once):
        expected = np.zeros(tensor.shape) if g is None else 20 * g
        got = np.zeros(tensor.shape) if tensor.grad is None else tensor.grad
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
    EXAMPLES["threads"] += 1


@pytest.fixture(scope="module", autouse=True)
def _coverage_report():
    yield
    print(f"\nfuzz examples: {dict(EXAMPLES)}; ops drawn: {dict(sorted(DRAWN.items()))}")
