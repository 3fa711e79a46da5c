"""Finite-difference gradient checking: :func:`numerical_grad` and :func:`gradcheck`.

Central differences ``(f(x + h e_j) − f(x − h e_j)) / (x_j⁺ − x_j⁻)`` have truncation error
``O(h²)`` and rounding error ``O(u·|f| / h)`` for a dtype with unit round-off ``u``; the step
and the tolerances below follow from that.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograd_lite.errors import GradcheckWarning, InputValueError
from autograd_lite.modes import no_grad
from autograd_lite.tensor import Tensor, to_array

PYTORCH_DEFAULTS = {"eps": 1e-6, "atol": 1e-5, "rtol": 1e-3}
CS224N_DEFAULTS = {"eps": 1e-4, "threshold": 1e-5}


def derived_settings(dtype: np.dtype) -> dict[str, float]:
    """Step and tolerances for a dtype: h = u^(1/3) balances the O(h²) truncation error against
    the O(u/h) rounding error, leaving an error of order u^(2/3); the tolerances allow 100
    times that. float32: h ≈ 4.9e-3, atol = rtol ≈ 2.4e-3."""
    u = float(np.finfo(dtype).eps)
    return {"eps": u ** (1 / 3), "atol": 100 * u ** (2 / 3), "rtol": 100 * u ** (2 / 3)}


def _prepare(inputs: Sequence[Any]) -> list[np.ndarray]:
    """The inputs as arrays (not copied: the checks that perturb an input copy it first)."""
    return [to_array(x, f"gradcheck input {i}") for i, x in enumerate(inputs)]


def _value(f: Callable[..., Any], tensors: Sequence[Tensor], seed: int | None,
           cotangent: np.ndarray | None) -> float:
    """f at ``tensors`` as a float (call it under no_grad; same random draws each call)."""
    out = _call(f, tensors, seed)
    value = np.asarray(out.data if isinstance(out, Tensor) else out, dtype=np.float64)
    if cotangent is not None:
        return float(np.sum(value * cotangent))
    return float(value.reshape(()))


def _evaluate(f: Callable[..., Any], arrays: Sequence[np.ndarray], seed: int | None,
              cotangent: np.ndarray | None) -> float:
    """f at ``arrays`` as a float, without building a graph."""
    with no_grad():
        return _value(f, [Tensor(a) for a in arrays], seed, cotangent)


def _call(f: Callable[..., Any], tensors: Sequence[Tensor], seed: int | None) -> Any:
    if seed is None:
        return f(*tensors)
    return f(*tensors, rng=np.random.default_rng(seed))


def _output_cotangent(shape: tuple[int, ...]) -> np.ndarray | None:
    """None for a single-element output; for a larger one, a fixed random vector v so that the
    check is of the scalar v·f(x), i.e. of the vector-Jacobian product vᵀJ."""
    if int(np.prod(shape)) == 1:
        return None
    return np.random.default_rng(12345).standard_normal(shape)


def numerical_grad(f: Callable[..., Any], *inputs: Any, eps: float = 1e-6,
                   seed: int | None = None) -> tuple[np.ndarray | None, ...]:
    """Central-difference gradient of the scalar ``f(*inputs)`` with respect to each
    floating-point input, one element at a time (None for integer inputs).

    ``f`` takes Tensors and returns a single-element Tensor (or number). With ``seed``, ``f`` is
    called as ``f(*tensors, rng=np.random.default_rng(seed))`` every time, so a loss that
    samples sees the same draws in every evaluation. The inputs are copied, never changed.
    """
    arrays = _prepare(inputs)
    with no_grad():
        out = _call(f, [Tensor(a) for a in arrays], seed)
    cotangent = _output_cotangent(np.shape(out.data if isinstance(out, Tensor) else out))
    return tuple(
        _central_differences(f, arrays, i, eps, seed, cotangent)
        if arrays[i].dtype.kind == "f" else None
        for i in range(len(arrays))
    )


def _central_differences(f: Callable[..., Any], arrays: list[np.ndarray], i: int, eps: float,
                         seed: int | None, cotangent: np.ndarray | None) -> np.ndarray:
    x = np.array(arrays[i])  # a private copy, perturbed in place through the tensor
    tensors = [Tensor(a) for a in arrays]
    tensors[i] = Tensor(x)
    grad = np.zeros(x.shape, dtype=np.float64)
    flat, out = x.reshape(-1), grad.reshape(-1)
    with no_grad():
        for j in range(flat.size):
            original = flat[j]
            flat[j] = original + eps
            upper = flat[j]
            f_plus = _value(f, tensors, seed, cotangent)
            flat[j] = original - eps
            lower = flat[j]
            f_minus = _value(f, tensors, seed, cotangent)
            flat[j] = original
            out[j] = (f_plus - f_minus) / (float(upper) - float(lower))
    return grad.astype(x.dtype)


def _tape_gradients(f: Callable[..., Any], arrays: Sequence[np.ndarray], seed: int | None
                    ) -> tuple[list[np.ndarray | None], np.ndarray | None]:
    """The tape's gradients, and the output cotangent used (None for a scalar output)."""
    tensors = [Tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    out = _call(f, tensors, seed)
    if not isinstance(out, Tensor) or not out.requires_grad:
        raise InputValueError("gradcheck: f must return a Tensor computed from its inputs "
                              "(got a value with no recorded history)")
    cotangent = _output_cotangent(out.shape)
    out.backward(np.ones(out.shape, out.dtype) if cotangent is None
                 else cotangent.astype(out.dtype))
    grads = [None if not t.requires_grad else
             (t.grad if t.grad is not None else np.zeros(t.shape, t.dtype)) for t in tensors]
    return grads, cotangent


@dataclass
class InputCheck:
    """The result for one input: errors, and the worst element with both values."""

    position: int
    shape: tuple[int, ...]
    passed: bool
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple[int, ...] | None
    analytic: float
    numeric: float
    mode: str = "per element"

    def describe(self) -> str:
        status = "ok" if self.passed else "FAIL"
        where = f"worst at {self.worst_index}" if self.worst_index is not None else "directional"
        who = f"input {self.position} {self.shape}" if self.position >= 0 else "all inputs"
        return (f"{who}: {status}, max abs err "
                f"{self.max_abs_error:.3g}, max rel err {self.max_rel_error:.3g} ({where}: tape "
                f"{self.analytic:.10g} vs numeric {self.numeric:.10g}; {self.mode})")


@dataclass
class GradcheckReport:
    """Truthy when every input passed; ``str()`` gives a readable account."""

    inputs: list[InputCheck]
    settings: dict[str, Any]
    rerun: Callable[[], GradcheckReport] | None = field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.inputs)

    def __bool__(self) -> bool:
        return self.passed

    def _repr_html_(self) -> str:  # rich display in notebooks
        return __import__("autograd_lite.html_report", fromlist=["_"]).gradcheck_html(self)

    @property
    def failures(self) -> list[InputCheck]:
        return [check for check in self.inputs if not check.passed]

    def locate(self) -> GradcheckReport:
        """For a fast-mode report: the same check per element, which names the worst one."""
        return self.rerun() if self.rerun is not None else self

    def __str__(self) -> str:
        head = "gradcheck " + ("passed" if self.passed else "FAILED")
        settings = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                             for k, v in self.settings.items())
        return "\n".join([f"{head} ({settings})", *("  " + c.describe() for c in self.inputs)])


def _compare(analytic: np.ndarray, numeric: np.ndarray, settings: dict[str, Any],
             position: int, shape: tuple[int, ...], mode: str) -> InputCheck:
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    diff = np.abs(a - n)
    if settings["convention"] == "cs224n":
        score = diff / np.maximum(1.0, np.maximum(np.abs(a), np.abs(n)))
        failing = score > settings["threshold"]
    else:
        score = diff - (settings["atol"] + settings["rtol"] * np.abs(n))
        failing = score > 0
    rel = diff / np.maximum(np.abs(n), np.finfo(np.float64).tiny)
    worst = np.unravel_index(int(np.argmax(score)), score.shape) if score.size else ()
    return InputCheck(
        position=position, shape=shape, passed=not bool(failing.any()),
        max_abs_error=float(diff.max(initial=0.0)), max_rel_error=float(rel.max(initial=0.0)),
        worst_index=tuple(int(i) for i in worst) if mode == "per element" else None,
        analytic=float(a[worst]) if score.size else 0.0,
        numeric=float(n[worst]) if score.size else 0.0, mode=mode)


def gradcheck(f: Callable[..., Any], *inputs: Any, eps: float | None = None,
              atol: float | None = None, rtol: float | None = None, fast_mode: bool = False,
              convention: str = "pytorch", seed: int | None = None, directions: int = 1,
              raise_exception: bool = False) -> GradcheckReport:
    """Check the tape's gradient of ``f`` at ``inputs`` against central finite differences.

    ``convention="pytorch"`` (default): an element fails when |a − n| > atol + rtol·|n|, with
    eps=1e-6, atol=1e-5, rtol=1e-3 for float64. ``convention="cs224n"``: step 1e-4 and an element
    fails when |a − n| / max(1, |a|, |n|) > 1e-5 (the course's checker). float32 inputs warn (the
    check is unreliable) and default to :func:`derived_settings` for float32.

    ``fast_mode=True`` compares directional derivatives along ``directions`` random unit
    vectors spanning all inputs (PyTorch's fast mode, JAX's check_grads) instead of every
    element: two evaluations per direction. When it fails, the report checks each input along
    its own direction to name the input, and ``report.locate()`` reruns per element.

    A non-scalar ``f`` is checked through ``v·f`` for a fixed random ``v`` (its VJP). ``seed``
    hands ``f`` the keyword ``rng=np.random.default_rng(seed)`` afresh in every evaluation.
    """
    arrays = _prepare(inputs)
    float_dtypes = {a.dtype for a in arrays if a.dtype.kind == "f"}
    if not float_dtypes:
        raise InputValueError("gradcheck: no floating-point input to check")
    low = max(float_dtypes, key=lambda d: np.finfo(d).eps)  # the least precise
    settings: dict[str, Any] = {"convention": convention, "dtype": str(low)}
    if convention == "cs224n":
        settings.update(CS224N_DEFAULTS)
        settings["eps"] = eps if eps is not None else settings["eps"]
        settings["threshold"] = atol if atol is not None else settings["threshold"]
    elif convention == "pytorch":
        base = PYTORCH_DEFAULTS if low == np.float64 else derived_settings(low)
        settings.update({"eps": eps if eps is not None else base["eps"],
                         "atol": atol if atol is not None else base["atol"],
                         "rtol": rtol if rtol is not None else base["rtol"]})
    else:
        raise InputValueError(f"gradcheck: convention must be 'pytorch' or 'cs224n', got "
                              f"{convention!r}")
    if low != np.float64:
        warnings.warn(
            f"gradcheck on {low} inputs is unreliable: finite differences lose about half the "
            f"digits of the dtype. Using eps={settings['eps']:.3g} and tolerances "
            f"{settings.get('atol', settings.get('threshold')):.3g}; check in float64 when you "
            "can.", GradcheckWarning, stacklevel=2)
    settings["fast_mode"] = fast_mode
    analytic, cotangent = _tape_gradients(f, arrays, seed)
    checked = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]

    def per_element() -> GradcheckReport:
        results = [_compare(analytic[i], _central_differences(f, arrays, i, settings["eps"], seed,
                                                              cotangent),
                            settings, i, arrays[i].shape, "per element") for i in checked]
        return GradcheckReport(results, {**settings, "fast_mode": False})

    if not fast_mode:
        report = per_element()
    else:
        rng = np.random.default_rng(0 if seed is None else seed + 1)
        joint = _directional(f, arrays, analytic, checked, rng, directions, settings, seed,
                             cotangent)
        if joint.passed:
            report = GradcheckReport([joint], settings, rerun=per_element)
        else:  # name the input: one direction of its own each
            report = GradcheckReport(
                [_directional(f, arrays, analytic, [i], rng, directions, settings, seed,
                              cotangent) for i in checked], settings, rerun=per_element)
    if raise_exception and not report.passed:
        raise AssertionError(str(report))
    return report



def _rank_one_direction(shape: tuple[int, ...], rng: np.random.Generator
                        ) -> list[np.ndarray]:
    """A random direction for an input of ``shape``, as its factors: one vector a_k per axis,
    standing for u = a_0 ⊗ a_1 ⊗ ⋯ (u = 1 for a scalar input). Each entry has a random sign and
    a magnitude uniform in [0.5, 1).

    A wrong gradient G' ≠ G is missed only when ⟨G' − G, u⟩ = 0, a polynomial in the a_k that
    is not identically zero: that happens with probability 0, as for a dense random u. No
    entry of u is near 0 (each is at least 2^−ndim in size), so an error confined to a few
    elements is never hidden by a small weight. And it takes Σ n_k random draws instead of
    Π n_k, while ‖u‖ = Π ‖a_k‖ and ⟨G, u⟩ (a matrix-vector product per axis) come without
    forming u.
    """
    factors = []
    for n in shape:
        a = rng.random(n)
        a -= 0.5  # uniform in [-0.5, 0.5): the sign, then the magnitude moved to [0.5, 1)
        a += np.copysign(0.5, a)
        factors.append(a)
    return factors


def _contract(array: Any, factors: Sequence[np.ndarray]) -> float:
    """⟨array, a_0 ⊗ a_1 ⊗ ⋯⟩, contracting one leading axis at a time."""
    value = np.asarray(array, np.float64)
    if value.size == 0:
        return 0.0
    for a in factors:
        value = a @ value.reshape(a.size, -1)
    return float(value.reshape(()))


def _expand(factors: Sequence[np.ndarray], scale: float) -> np.ndarray:
    """scale · a_0 ⊗ a_1 ⊗ ⋯ as a fresh float64 array (one pass writing it, for a matrix)."""
    product = np.array(float(scale))
    for a in factors:
        product = np.multiply.outer(product, a)
    return product


def _directional(f: Callable[..., Any], arrays: list[np.ndarray], analytic: list[Any],
                 positions: Sequence[int], rng: np.random.Generator, directions: int,
                 settings: dict[str, Any], seed: int | None,
                 cotangent: np.ndarray | None) -> InputCheck:
    """Compare ⟨∇f, u⟩ with (f(x + h u) − f(x − h u)) / 2h for random unit vectors u.

    Each input's part of u is a random rank-one tensor (:func:`_rank_one_direction`), so a
    direction costs two evaluations of f, a few random numbers per axis and one fresh array per
    input (on large inputs every fresh array costs page faults): the step h·u is written into
    it and x added (x + h·u); after f's evaluation that point is reflected through x in the same
    array, x − ((x + h·u) − x), which is x − h·u up to the rounding of x + h·u itself (the two
    additions cost less than writing the outer product again).
    """
    eps = settings["eps"]
    tape, numeric = [], []
    for _ in range(directions):
        factors = {i: _rank_one_direction(arrays[i].shape, rng) for i in positions}
        norm = math.sqrt(sum(math.prod(float(np.dot(a, a)) for a in fs)
                             for fs in factors.values())) or 1.0
        tape.append(sum(_contract(analytic[i], fs) for i, fs in factors.items()) / norm)
        buffers = {i: _expand(fs, eps / norm) for i, fs in factors.items()}
        for i, buffer in buffers.items():
            buffer += arrays[i]
        f_plus = _evaluate(f, _shifted(arrays, buffers), seed, cotangent)
        for i, buffer in buffers.items():  # reflect x + h·u through x
            np.subtract(arrays[i], buffer, out=buffer)
            buffer += arrays[i]
        f_minus = _evaluate(f, _shifted(arrays, buffers), seed, cotangent)
        numeric.append((f_plus - f_minus) / (2 * eps))
    position = positions[0] if len(positions) == 1 else -1
    shape = arrays[position].shape if position >= 0 else ()
    label = (f"{directions} random direction(s)" if position >= 0
             else f"{directions} random direction(s) across all inputs")
    return _compare(np.array(tape), np.array(numeric), settings, position, shape, label)


def _shifted(arrays: Sequence[np.ndarray], buffers: dict[int, np.ndarray]) -> list[np.ndarray]:
    """The inputs with the shifted ones in place, each in its input's dtype."""
    shifted = list(arrays)
    for i, buffer in buffers.items():
        shifted[i] = buffer.astype(arrays[i].dtype, copy=False)
    return shifted
