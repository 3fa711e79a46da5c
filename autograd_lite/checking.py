"""Finite-difference gradient checking with estimated errors, and the judging core shared by
:func:`gradcheck` and :mod:`autograd_lite.verify`.

**Numerical derivatives** (:func:`estimate_derivative`). For one element x_j the loss is a
function g(h) = f(x + h e_j) of the step. Central differences D(h) = (g(h) − g(−h)) / 2h have a
truncation error c·h² + O(h⁴) and a round-off error of order u_f·|f| / h (u_f the unit round-off
of f's values). Instead of assuming the function's scale, the step is swept downwards,
h_k = h_0 / 4^k with h_0 = u^(1/3)·max(1, |x_j|): at each level the Richardson extrapolation
R_k = (h_{k−1}² D_k − h_k² D_{k−1}) / (h_{k−1}² − h_k²) removes the h² term, and
E_k = |D_k − D_{k−1}| + 10·u_f·max|g| / h_k bounds its error (the change between levels bounds
the truncation error of D_k, hence of R_k, and the second term is the round-off). The sweep
stops when E_k stops shrinking or is at the round-off level; the level with the smallest E_k
gives the value R and its error E. A step whose evaluations are not finite (a log stepping
past 0) is halved until they are. Cost: one evaluation of f at x, then 4 per element when the
first two levels agree (most elements), up to ``2·MAX_LEVELS`` when the function varies on a
scale much smaller than max(1, |x_j|).

**Kinks.** The one-sided slopes (g(h) − g(0))/h and (g(0) − g(−h))/h differ by about g''·h at a
smooth point (shrinking with h) and by the jump of the slope at a kink (constant; noise
would make it grow as 1/h). An element whose gap stays within 25 % from level to level, far
above round-off, down to a step of u^(1/2)·max(1, |x_j|) is a kink (a kink a little farther
away than that stops the constant gap once the step is smaller); both slopes are reported.

**Taylor remainder** (:func:`taylor_order`). For a candidate slope s, r(h) = |g(h) − g(0) − h s|
shrinks as h² when s is the derivative and as h when it is not. Used when an analytic gradient
agrees with itself (formula = tape) but not with the finite differences: a second-order
remainder means the numeric reference, not the gradient, is in doubt.

**Element-wise judging** (:func:`roundoff_allowance`, :func:`scores`). Two gradients a, b agree at
element j when |a_j − b_j| ≤ tol_j; the worst element is the one with the largest
|a_j − b_j| / tol_j. Every tolerance is proportional to the values compared, so multiplying
the loss by any constant changes no verdict, and no wrong element hides behind a large right
one.
"""

from __future__ import annotations

import inspect
import itertools
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

#: Levels of the step sweep (each costs two evaluations of f per element).
MAX_LEVELS = 6
#: Allowance for round-off between two computations of the same gradient, in units of
#: u·max(|a_j|, |b_j|) (plus the measured float32 spread, see :func:`roundoff_allowance`).
ROUNDOFF_FACTOR = 64.0
#: A gradient is "reliable" from finite differences when its estimated error is at most this
#: fraction of its size (or at the round-off level).
RELIABLE_FRACTION = 0.1


def unit_roundoff(dtype: Any) -> float:
    """u for a floating dtype (2.2e-16 for float64); float64's for anything else."""
    dtype = np.dtype(dtype)
    return float(np.finfo(dtype if dtype.kind == "f" else np.float64).eps)


def derived_settings(dtype: np.dtype) -> dict[str, float]:
    """Fixed-step settings for a dtype (conventions 'pytorch' and 'cs224n' below float64):
    h = u^(1/3) balances the O(h²) truncation error against the O(u/h) rounding error, leaving
    an error of order u^(2/3); the tolerances allow 100 times that. float32: h ≈ 4.9e-3,
    atol = rtol ≈ 2.4e-3."""
    u = float(np.finfo(dtype).eps)
    return {"eps": u ** (1 / 3), "atol": 100 * u ** (2 / 3), "rtol": 100 * u ** (2 / 3)}


# ------------------------------------------------------------------ numerical derivatives
@dataclass
class NumericDerivative:
    """Finite-difference estimates for the elements of one target (float64 arrays)."""

    value: np.ndarray
    error: np.ndarray
    step: np.ndarray
    left: np.ndarray
    right: np.ndarray
    kink: np.ndarray
    noise: np.ndarray
    evaluations: int = 0

    def reliable(self) -> np.ndarray:
        """Elements whose estimated error is small next to the derivative or at round-off."""
        return self.error <= RELIABLE_FRACTION * np.abs(self.value) + 10 * self.noise


Evaluate = Callable[[int, float], tuple[float, float]]


def estimate_derivative(evaluate: Evaluate, j: int, x: float, f0: float, unit: float,
                        unit_f: float) -> tuple[float, float, float, float, float, bool, float,
                                                int]:
    """Estimate ∂f/∂x_j by the step sweep of the module docstring.

    ``evaluate(j, h)`` returns f with element j moved by about h and the step actually taken
    (the moved value minus the original, after rounding to the dtype). Returns (value, error,
    step, left slope, right slope, kink, round-off noise, evaluations)."""
    h = unit ** (1 / 3) * max(1.0, abs(x))
    smallest = unit ** (1 / 2) * max(1.0, abs(x))  # a kink must persist down to this step
    levels: list[tuple[float, float, float, float, float]] = []  # D, half-width, fwd, bwd, noise
    best = (math.nan, math.inf, h, math.nan, math.nan, False, 0.0)
    evaluations, shrinks, previous_error, kink_levels = 0, 0, math.inf, 0
    while len(levels) < MAX_LEVELS + kink_levels and shrinks < 40:
        f_plus, h_plus = evaluate(j, h)
        f_minus, h_minus = evaluate(j, -h)
        evaluations += 2
        width = h_plus - h_minus
        if not (math.isfinite(f_plus) and math.isfinite(f_minus)) or width <= 0:
            h, shrinks = h / 2, shrinks + 1
            continue
        half = width / 2
        noise = 10 * unit_f * max(abs(f_plus), abs(f_minus), abs(f0)) / half
        slope = (f_plus - f_minus) / width
        forward = (f_plus - f0) / h_plus if h_plus > 0 else slope
        backward = (f0 - f_minus) / -h_minus if h_minus < 0 else slope
        levels.append((slope, half, forward, backward, noise))
        if len(levels) >= 2:
            d_prev, half_prev = levels[-2][0], levels[-2][1]
            richardson = (half_prev ** 2 * slope - half ** 2 * d_prev) / (half_prev ** 2 -
                                                                          half ** 2)
            error = abs(slope - d_prev) + noise
            gap, gap_prev = forward - backward, levels[-2][2] - levels[-2][3]
            constant_gap = (abs(gap) > 1000 * noise
                            and abs(gap) > 1e-6 * (abs(forward) + abs(backward))
                            and abs(gap - gap_prev) <= 0.25 * abs(gap))  # not shrinking as h
            if constant_gap:  # a kink at x, or one within the step: look closer
                kink_levels += 1
                if half <= smallest:
                    best = (slope, error, half, backward, forward, True, noise)
                    break
                h /= 4
                continue
            kink_levels = 0
            if error < best[1]:
                best = (richardson, error, half, backward, forward, False, noise)
            if error <= 1e-10 * abs(richardson) + 2 * noise or \
                    (len(levels) >= 3 and error > 4 * previous_error):
                break
            previous_error = error
        h /= 4
    if len(levels) == 1:  # only one finite level: no error estimate beyond its size
        slope, half, forward, backward, noise = levels[0]
        best = (slope, abs(slope) + noise, half, backward, forward, False, noise)
    value, error, step, left, right, kink, noise = best
    return value, error, step, left, right, kink, noise, evaluations


def numeric_derivative(evaluate: Evaluate, values: np.ndarray, f0: float, unit: float,
                       unit_f: float) -> NumericDerivative:
    """:func:`estimate_derivative` for every element of ``values`` (the target's values)."""
    n = values.size
    out = {k: np.zeros(n) for k in ("value", "error", "step", "left", "right", "noise")}
    kink = np.zeros(n, dtype=bool)
    total = 0
    flat = np.asarray(values, np.float64).reshape(-1)
    for j in range(n):
        with np.errstate(all="ignore"):  # steps past a domain's edge are expected, and skipped
            value, error, step, left, right, is_kink, noise, count = estimate_derivative(
                evaluate, j, float(flat[j]), f0, unit, unit_f)
        for key, v in zip(("value", "error", "step", "left", "right", "noise"),
                          (value, error, step, left, right, noise), strict=True):
            out[key][j] = v
        kink[j] = is_kink
        total += count
    shape = np.shape(values)
    return NumericDerivative(**{k: v.reshape(shape) for k, v in out.items()},
                             kink=kink.reshape(shape), evaluations=total)


def taylor_order(evaluate: Evaluate, j: int, x: float, f0: float, slope: float, unit: float,
                 unit_f: float) -> float | None:
    """The order p of the Taylor remainder r(h) = |f(x + h e_j) − f(x) − h·slope| ∝ h^p: about
    2 when ``slope`` is the derivative, about 1 when it is not; None when round-off drowns
    it at every step tried."""
    h = 1e-2 * max(1.0, abs(x))
    remainders: list[tuple[float, float]] = []
    for _ in range(12):
        with np.errstate(all="ignore"):
            up, h_up = evaluate(j, h)
            down, h_down = evaluate(j, -h)
        if math.isfinite(up) and math.isfinite(down):
            r = max(abs(up - f0 - h_up * slope), abs(down - f0 - h_down * slope))
            floor = 1000 * unit_f * max(abs(up), abs(down), abs(f0))
            if r > floor:
                remainders.append((h_up - h_down, r))
        h /= 2
    orders = [math.log(r1 / r2) / math.log(w1 / w2)
              for (w1, r1), (w2, r2) in itertools.pairwise(remainders)
              if r2 > 0 and w1 != w2]
    if not orders:
        return None
    return float(np.median(orders[-4:]))  # the smallest steps: closest to the limit


def taylor_says(order: float | None) -> str | None:
    """'right' for a second-order remainder (order ≥ 1.6), 'wrong' for a first-order one
    (0.7 ≤ order ≤ 1.4), None otherwise (noise or a jump dominates, or nothing measurable)."""
    if order is None:
        return None
    if order >= 1.6:
        return "right"
    return "wrong" if 0.7 <= order <= 1.4 else None


# ------------------------------------------------------------------------ element judging
def roundoff_allowance(a: np.ndarray, b: np.ndarray, spread: np.ndarray | None = None,
                       unit: float = unit_roundoff(np.float64)) -> np.ndarray:
    """How far two computations of the same values may differ by round-off, per element:
    ROUNDOFF_FACTOR·(u·max(|a_j|, |b_j|) + spread_j·u/u32). ``spread`` is the measured
    difference between float32 and float64 runs of the same computations, which carries the
    conditioning of each element (an element that is a small difference of large terms, or
    that depends on x − mean(x) for large x, is allowed the round-off that implies), scaled
    from float32's unit round-off u32 down to the precision compared."""
    allowance = unit * np.maximum(np.abs(a), np.abs(b))
    if spread is not None:
        allowance = allowance + np.asarray(spread, np.float64) * (unit /
                                                                  unit_roundoff(np.float32))
    return ROUNDOFF_FACTOR * allowance


def resolution_floor(loss_value: float, values: np.ndarray,
                     unit: float = unit_roundoff(np.float64)) -> float:
    """The smallest gradient the loss can resolve: ROUNDOFF_FACTOR·u·|J| / max|x|. Moving the
    input by its own scale changes J by less than J's round-off for a gradient below it, so a
    gradient that is exactly zero (the sum of a softmax, a shift-invariant loss) and its
    round-off (a few ulps of the terms that cancel) agree. It scales with the loss and inversely
    with the input, as a gradient does, so scaling either changes no verdict."""
    scale = float(np.max(np.abs(values), initial=0.0)) if np.size(values) else 0.0
    if not scale or not np.isfinite(loss_value):
        return 0.0
    return ROUNDOFF_FACTOR * unit * abs(float(loss_value)) / scale


def scores(a: np.ndarray, b: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """|a − b| / tolerance per element (≤ 1 agrees); non-finite differences score inf, and
    0 / 0 scores 0."""
    diff = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(diff == 0, 0.0, diff / tolerance)
    return np.where(np.isnan(score), np.inf, score)


def worst(score: np.ndarray) -> tuple[int, ...]:
    """Index of the largest score (the first of ties)."""
    if score.size == 0:
        return ()
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(score)), score.shape))


# -------------------------------------------------------------------------------- gradcheck
def _prepare(inputs: Sequence[Any], names: Sequence[str]) -> list[np.ndarray]:
    """The inputs as arrays (not copied here: every evaluation gets its own copies)."""
    return [to_array(x, f"gradcheck input '{names[i]}'") for i, x in enumerate(inputs)]


def input_names(f: Callable[..., Any], count: int) -> list[str]:
    """The names of f's first ``count`` positional parameters (``input i`` past them or when f
    takes ``*args``)."""
    try:
        parameters = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    names = [p.name for p in parameters
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][:count]
    return names + [f"input {i}" for i in range(len(names), count)]


def _value(f: Callable[..., Any], tensors: Sequence[Tensor], seed: int | None,
           cotangent: np.ndarray | None) -> float:
    """f at ``tensors`` as a float (call it under no_grad; same random draws each call)."""
    out = _call(f, tensors, seed)
    return _number(out.data if isinstance(out, Tensor) else out, cotangent)


def _number(out: Any, cotangent: np.ndarray | None) -> float:
    """An output of f as the float the check differentiates (v·f for a non-scalar f)."""
    value = np.asarray(out, dtype=np.float64)
    if cotangent is not None:
        return float(np.sum(value * cotangent))
    return float(value.reshape(()))


#: Evaluations of f from which finite differences run it compiled (al.compile): tracing costs
#: about 40 eager evaluations of a small loss, and each compiled one about 40 % of an eager one.
COMPILE_FROM = 256


def _numeric_value(f: Callable[..., Any], arrays: Sequence[np.ndarray], seed: int | None,
                   cotangent: np.ndarray | None, evaluations: int
                   ) -> Callable[[list[np.ndarray]], float]:
    """f as a float of fresh input arrays, for the ``evaluations`` of finite differences.

    When there are many and f takes no ``rng``, f runs compiled (``al.compile``): the same
    NumPy calls as its eager forward, so the same numbers, without the per-op work of the ops'
    dispatch. A function that cannot be traced (a Python branch on a value, a random draw, a
    change to its inputs) or fails while tracing runs as it is, and reports its own errors."""
    if seed is None and evaluations >= COMPILE_FROM:
        from autograd_lite.compile import compiled_or_none

        compiled = compiled_or_none(f, *[np.array(a) for a in arrays])
        if compiled is not None:
            return lambda copies: _number(compiled(*copies), cotangent)

    def eager(copies: list[np.ndarray]) -> float:
        with no_grad():
            return _value(f, [Tensor(c) for c in copies], seed, cotangent)
    return eager


def _evaluate(f: Callable[..., Any], arrays: Sequence[np.ndarray], seed: int | None,
              cotangent: np.ndarray | None) -> float:
    """f at copies of ``arrays`` as a float, without building a graph (f may change what it
    is handed: no other evaluation sees it)."""
    with no_grad():
        return _value(f, [Tensor(np.array(a)) for a in arrays], seed, cotangent)


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
    floating-point input, one element at a time with the fixed step ``eps`` (None for integer
    inputs). For an estimate with an error bar use :func:`estimate_derivative` (as
    :func:`gradcheck` does).

    ``f`` takes Tensors and returns a single-element Tensor (or number). With ``seed``, ``f`` is
    called as ``f(*tensors, rng=np.random.default_rng(seed))`` every time, so a loss that
    samples sees the same draws in every evaluation. The inputs are copied, never changed.
    """
    arrays = _prepare(inputs, input_names(f, len(inputs)))
    with no_grad():
        out = _call(f, [Tensor(np.array(a)) for a in arrays], seed)
    cotangent = _output_cotangent(np.shape(out.data if isinstance(out, Tensor) else out))
    value = _numeric_value(f, arrays, seed, cotangent,
                           2 * sum(a.size for a in arrays if a.dtype.kind == "f"))
    return tuple(
        _central_differences(value, arrays, i, eps) if arrays[i].dtype.kind == "f" else None
        for i in range(len(arrays))
    )


def _central_differences(value: Callable[[list[np.ndarray]], float], arrays: list[np.ndarray],
                         i: int, eps: float) -> np.ndarray:
    """Fixed-step central differences (the 'pytorch' and 'cs224n' conventions)."""
    evaluate = _element_evaluator(value, arrays, i)
    grad = np.zeros(arrays[i].shape, dtype=np.float64)
    for j in range(grad.size):
        f_plus, h_plus = evaluate(j, eps)
        f_minus, h_minus = evaluate(j, -eps)
        grad.flat[j] = (f_plus - f_minus) / (h_plus - h_minus)
    return grad.astype(arrays[i].dtype)


def _element_evaluator(value: Callable[[list[np.ndarray]], float], arrays: Sequence[np.ndarray],
                       i: int) -> Evaluate:
    """evaluate(j, h): f (as ``value``) with element j of input i moved by h (in the input's
    dtype), on fresh copies of every input; returns the value and the step actually taken."""
    def evaluate(j: int, h: float) -> tuple[float, float]:
        copies = [np.array(a) for a in arrays]
        flat = copies[i].reshape(-1)
        original = flat[j]
        flat[j] = original + h
        taken = float(flat[j]) - float(original)
        return value(copies), taken
    return evaluate


def _tape_gradients(f: Callable[..., Any], arrays: Sequence[np.ndarray], seed: int | None
                    ) -> tuple[list[np.ndarray | None], np.ndarray | None, np.dtype]:
    """The tape's gradients, the output cotangent used (None for a scalar output) and the
    output's dtype."""
    tensors = [Tensor(np.array(a), requires_grad=a.dtype.kind == "f") for a in arrays]
    out = _call(f, tensors, seed)
    if not isinstance(out, Tensor) or not out.requires_grad:
        raise InputValueError("gradcheck: f must return a Tensor computed from its inputs "
                              "(got a value with no recorded history)")
    cotangent = _output_cotangent(out.shape)
    out.backward(np.ones(out.shape, out.dtype) if cotangent is None
                 else cotangent.astype(out.dtype))
    grads = [None if not t.requires_grad else
             (t.grad if t.grad is not None else np.zeros(t.shape, t.dtype)) for t in tensors]
    return grads, cotangent, out.dtype


@dataclass
class InputCheck:
    """The result for one input: its outcome, errors, and the worst element with both values.

    ``outcome`` is 'pass', 'fail', 'kink' (finite differences disagree with the tape only
    where the one-sided slopes differ; ``kinks`` lists those elements) or 'unreliable' (the
    finite differences disagree but a Taylor-remainder test finds the tape's gradient right).
    ``max_abs_error`` and ``max_rel_error`` are the largest |tape − numeric| and that over
    max(|tape|, |numeric|) per element; ``score`` is the worst |tape − numeric| / tolerance
    (≤ 1 agrees)."""

    position: int
    shape: tuple[int, ...]
    passed: bool
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple[int, ...] | None
    analytic: float
    numeric: float
    mode: str = "per element"
    name: str = ""
    outcome: str = "pass"
    dtype: str = "float64"
    numeric_error: float | None = None
    score: float | None = None
    kinks: list[tuple[int, ...]] = field(default_factory=list)
    detail: str = ""

    def describe(self) -> str:
        status = {"pass": "ok", "fail": "FAIL", "kink": "KINK",
                  "unreliable": "ok (numeric reference unreliable)"}[self.outcome]
        where = f"worst at {self.worst_index}" if self.worst_index is not None else "directional"
        label = self.name or f"input {self.position}"
        who = f"{label} {self.shape} {self.dtype}" if self.position >= 0 else "all inputs"
        error_bar = "" if self.numeric_error is None else f" ± {self.numeric_error:.2g}"
        text = (f"{who}: {status}, max abs err {self.max_abs_error:.3g}, max rel err "
                f"{self.max_rel_error:.3g} ({where}: tape {self.analytic:.10g} vs numeric "
                f"{self.numeric:.10g}{error_bar}; {self.mode})")
        return text + (f"; {self.detail}" if self.detail else "")


@dataclass
class GradcheckReport:
    """Truthy when no input failed; ``str()`` gives a readable account."""

    inputs: list[InputCheck]
    settings: dict[str, Any]
    rerun: Callable[[], GradcheckReport] | None = field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.inputs)

    def __bool__(self) -> bool:
        return self.passed

    def _repr_html_(self) -> str:  # rich display in notebooks
        from autograd_lite.html_report import gradcheck_html

        return gradcheck_html(self)

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


def _fixed_compare(analytic: np.ndarray, numeric: np.ndarray, settings: dict[str, Any],
                   position: int, shape: tuple[int, ...], mode: str, name: str,
                   dtype: str) -> InputCheck:
    """The fixed tolerances of the 'pytorch' and 'cs224n' conventions."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    diff = np.abs(a - n)
    if settings["convention"] == "cs224n":
        score = diff / np.maximum(1.0, np.maximum(np.abs(a), np.abs(n))) / settings["threshold"]
    else:
        score = diff / (settings["atol"] + settings["rtol"] * np.abs(n))
    score = np.where(np.isnan(score), np.inf, score)
    return _input_check(a, n, score, position, shape, mode, name, dtype,
                        outcome="fail" if bool((score > 1).any()) else "pass")


def _input_check(a: np.ndarray, n: np.ndarray, score: np.ndarray, position: int,
                 shape: tuple[int, ...], mode: str, name: str, dtype: str, outcome: str,
                 **extra: Any) -> InputCheck:
    diff = np.abs(a - n)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / np.maximum(np.abs(a), np.abs(n)))
    index = worst(score)
    return InputCheck(
        position=position, shape=shape, passed=outcome != "fail",
        max_abs_error=float(diff.max(initial=0.0)), max_rel_error=float(rel.max(initial=0.0)),
        worst_index=index if mode == "per element" else None,
        analytic=float(a[index]) if score.size else 0.0,
        numeric=float(n[index]) if score.size else 0.0, mode=mode, name=name, outcome=outcome,
        dtype=dtype, score=float(score.max(initial=0.0)), **extra)


def judge_against_numeric(analytic: np.ndarray, numeric: NumericDerivative, unit: float,
                          evaluate: Evaluate, values: np.ndarray, f0: float, unit_f: float,
                          spread: np.ndarray | None = None
                          ) -> tuple[str, np.ndarray, str, list[tuple[int, ...]]]:
    """Judge a gradient against finite differences: (outcome, score, detail, kink elements).

    An element agrees when |a_j − R_j| ≤ 2·E_j + round-off allowance. Disagreeing elements
    that are kinks give 'kink'; otherwise the Taylor remainder at the worst one decides:
    second order → 'unreliable' (the numeric reference is in doubt), first order → 'fail'."""
    a = np.asarray(analytic, np.float64)
    tolerance = 2 * numeric.error + roundoff_allowance(a, numeric.value, spread, unit)
    score = scores(a, numeric.value, tolerance)
    bad = score > 1
    doubtful = ~numeric.reliable() & ~numeric.kink
    if not bad.any() and doubtful.any():  # agreement only within a wide error bar
        with np.errstate(divide="ignore", invalid="ignore"):
            width = np.nan_to_num(np.where(doubtful, numeric.error / np.abs(numeric.value), -1.0),
                                  nan=np.inf)
        index = worst(width)
        flat = int(np.ravel_multi_index(index, a.shape)) if a.ndim else 0
        order = taylor_order(evaluate, flat,
                             float(np.asarray(values, np.float64).reshape(-1)[flat]), f0,
                             float(a[index]), unit, unit_f)
        if taylor_says(order) != "right":
            return "unreliable", score, (
                f"finite differences settle only to {numeric.value[index]:.10g} ± "
                f"{numeric.error[index]:.2g} at {index}, and the Taylor remainder cannot confirm "
                "the tape's gradient there: the numeric reference is in doubt"), []
    if not bad.any():
        return "pass", score, "", []
    kinks = [tuple(int(i) for i in idx) for idx in np.argwhere(bad & numeric.kink)]
    smooth_bad = bad & ~numeric.kink
    if not smooth_bad.any():
        return "kink", score, _kink_text(numeric, kinks, a), kinks
    masked = np.where(smooth_bad, score, -1.0)
    index = worst(masked)
    flat = int(np.ravel_multi_index(index, a.shape)) if a.ndim else 0
    order = taylor_order(evaluate, flat, float(np.asarray(values, np.float64).reshape(-1)[flat]),
                         f0, float(a[index]), unit, unit_f)
    if taylor_says(order) == "right":
        return "unreliable", score, (
            f"finite differences give {numeric.value[index]:.10g} ± {numeric.error[index]:.2g} "
            f"at {index} but the Taylor remainder of the gradient shrinks as h^{order:.1f} "
            "(a right slope gives h², a wrong one h): the numeric reference is in doubt, not "
            "the gradient"), kinks
    how = ("does not confirm it" if order is None else
           f"shrinks as h^{order:.1f} (a right slope gives h², a wrong one h)")
    return "fail", score, (f"the loss's slope at {index} is {numeric.value[index]:.10g} ± "
                           f"{numeric.error[index]:.2g}; the Taylor remainder of the tape's "
                           f"gradient {how}"), kinks


def _kink_text(numeric: NumericDerivative, kinks: list[tuple[int, ...]], taken: np.ndarray,
               who: str = "the tape") -> str:
    shown = kinks[:4]
    parts = [f"{idx}: left slope {numeric.left[idx]:.6g}, right slope {numeric.right[idx]:.6g}, "
             f"{who} took {taken[idx]:.6g}" for idx in shown]
    more = f" and {len(kinks) - len(shown)} more" if len(kinks) > len(shown) else ""
    return ("not differentiable there (one-sided slopes differ) at " + "; ".join(parts) + more)


def gradcheck(f: Callable[..., Any], *inputs: Any, eps: float | None = None,
              atol: float | None = None, rtol: float | None = None, fast_mode: bool = False,
              convention: str | None = None, seed: int | None = None, directions: int = 1,
              raise_exception: bool = False) -> GradcheckReport:
    """Check the tape's gradient of ``f`` at ``inputs`` against finite differences.

    ``convention="estimated"`` (the default unless ``eps``, ``atol`` or ``rtol`` is given):
    each element's derivative is estimated with an error bar by a step sweep with Richardson
    extrapolation (see the module docstring), and an element fails when
    |tape − numeric| > 2·(estimated error) + 64·u·max(|tape|, |numeric|), u the unit round-off
    of that input's own dtype (or of f's output, when coarser). Elements where the one-sided
    slopes differ are reported as kinks, not failures; when the finite differences disagree
    but a Taylor-remainder test finds the tape's gradient right, the outcome is 'unreliable'
    (not a failure). Multiplying f by a constant changes no verdict.

    ``convention="pytorch"``: an element fails when |a − n| > atol + rtol·|n|, with
    eps=1e-6, atol=1e-5, rtol=1e-3 for a float64 input (:func:`derived_settings` for lower
    precision, each input by its own dtype). ``convention="cs224n"``: step 1e-4 and an element
    fails when |a − n| / max(1, |a|, |n|) > 1e-5 (the course's checker). Inputs below float64
    warn that finite differences lose about half their digits.

    ``fast_mode=True`` compares directional derivatives along ``directions`` random vectors
    spanning all inputs (PyTorch's fast mode, JAX's check_grads) instead of every element.
    When it fails, each input is checked along its own direction to name it, and
    ``report.locate()`` reruns per element.

    Inputs are named by f's parameter names. A non-scalar ``f`` is checked through ``v·f`` for
    a fixed random ``v`` (its VJP). ``seed`` hands ``f`` the keyword
    ``rng=np.random.default_rng(seed)`` afresh in every evaluation. Every evaluation gets its
    own copies of the inputs. With many evaluations, f runs compiled when it can be traced
    (:func:`_numeric_value`): the same NumPy calls, so the same numbers.
    """
    names = input_names(f, len(inputs))
    arrays = _prepare(inputs, names)
    checked = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    if not checked:
        raise InputValueError("gradcheck: no floating-point input to check")
    if convention is None:
        convention = "pytorch" if (eps, atol, rtol) != (None, None, None) else "estimated"
    if convention not in ("estimated", "pytorch", "cs224n"):
        raise InputValueError(f"gradcheck: convention must be 'estimated', 'pytorch' or "
                              f"'cs224n', got {convention!r}")
    settings: dict[str, Any] = {"convention": convention}
    per_input = {i: _input_settings(arrays[i].dtype, convention, eps, atol, rtol)
                 for i in checked}
    if convention != "estimated":
        settings.update(per_input[checked[0]])
    low = [names[i] for i in checked if arrays[i].dtype != np.float64]
    if low:
        warnings.warn(
            f"gradcheck: input(s) {', '.join(low)} are below float64; finite differences lose "
            "about half the digits of their dtype, and each is judged by its own precision. "
            "Check in float64 when you can.", GradcheckWarning, stacklevel=2)
    settings["fast_mode"] = fast_mode
    analytic, cotangent, out_dtype = _tape_gradients(f, arrays, seed)
    unit_f = unit_roundoff(out_dtype)
    f0 = _evaluate(f, arrays, seed, cotangent)

    def per_element() -> GradcheckReport:
        results = []
        value = _numeric_value(f, arrays, seed, cotangent,
                               4 * sum(arrays[i].size for i in checked))
        for i in checked:
            a = np.asarray(analytic[i], np.float64)
            dtype = str(arrays[i].dtype)
            if convention == "estimated":
                evaluate = _element_evaluator(value, arrays, i)
                unit = unit_roundoff(arrays[i].dtype)
                numeric = numeric_derivative(evaluate, arrays[i], f0, unit, unit_f)
                outcome, score, detail, kinks = judge_against_numeric(
                    a, numeric, max(unit, unit_f), evaluate, arrays[i], f0, unit_f)
                index = worst(score)
                results.append(_input_check(
                    a, numeric.value, score, i, arrays[i].shape, "per element", names[i], dtype,
                    outcome, numeric_error=float(numeric.error[index]) if score.size else 0.0,
                    kinks=kinks, detail=detail))
            else:
                numeric_fixed = _central_differences(value, arrays, i, per_input[i]["eps"])
                results.append(_fixed_compare(a, numeric_fixed, {**settings, **per_input[i]},
                                              i, arrays[i].shape, "per element", names[i],
                                              dtype))
        return GradcheckReport(results, {**settings, "fast_mode": False})

    if not fast_mode:
        report = per_element()
    else:
        rng = np.random.default_rng(0 if seed is None else seed + 1)
        context = _Directional(f, arrays, analytic, rng, directions, convention, per_input, seed,
                               cotangent, names, f0, unit_f)
        joint = context.check(checked)
        if joint.passed:
            report = GradcheckReport([joint], settings, rerun=per_element)
        else:  # name the input: one direction of its own each
            report = GradcheckReport([context.check([i]) for i in checked], settings,
                                     rerun=per_element)
    if raise_exception and not report.passed:
        raise AssertionError(str(report))
    return report


def _input_settings(dtype: np.dtype, convention: str, eps: float | None, atol: float | None,
                    rtol: float | None) -> dict[str, Any]:
    """Step and tolerances of the fixed conventions for one input's dtype."""
    if convention == "cs224n":
        return {"eps": eps if eps is not None else CS224N_DEFAULTS["eps"],
                "threshold": atol if atol is not None else CS224N_DEFAULTS["threshold"]}
    if convention == "pytorch":
        base = PYTORCH_DEFAULTS if dtype == np.float64 else derived_settings(dtype)
        return {"eps": eps if eps is not None else base["eps"],
                "atol": atol if atol is not None else base["atol"],
                "rtol": rtol if rtol is not None else base["rtol"]}
    return {"unit_roundoff": unit_roundoff(dtype)}


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


@dataclass
class _Directional:
    """Directional checks: ⟨∇f, u⟩ against the derivative of h ↦ f(x + h u) for random unit
    vectors u (each input's part a random rank-one tensor, :func:`_rank_one_direction`)."""

    f: Callable[..., Any]
    arrays: list[np.ndarray]
    analytic: list[Any]
    rng: np.random.Generator
    directions: int
    convention: str
    per_input: dict[int, dict[str, Any]]
    seed: int | None
    cotangent: np.ndarray | None
    names: list[str]
    f0: float
    unit_f: float

    def _evaluator(self, factors: dict[int, list[np.ndarray]], norm: float) -> Evaluate:
        def evaluate(_: int, h: float) -> tuple[float, float]:
            shifted = [a if i in factors else np.array(a)  # fresh arrays for every evaluation
                       for i, a in enumerate(self.arrays)]
            for i, fs in factors.items():
                buffer = _expand(fs, h / norm)
                buffer += self.arrays[i]
                shifted[i] = buffer.astype(self.arrays[i].dtype, copy=False)
            with no_grad():
                return _value(self.f, [Tensor(a) for a in shifted], self.seed,
                              self.cotangent), h
        return evaluate

    def check(self, positions: Sequence[int]) -> InputCheck:
        tape, numeric, errors, outcomes, details = [], [], [], [], []
        unit = max(unit_roundoff(self.arrays[i].dtype) for i in positions)
        scale = max(float(np.abs(self.arrays[i]).max(initial=0.0)) for i in positions)
        for _ in range(self.directions):
            factors = {i: _rank_one_direction(self.arrays[i].shape, self.rng) for i in positions}
            norm = math.sqrt(sum(math.prod(float(np.dot(a, a)) for a in fs)
                                 for fs in factors.values())) or 1.0
            slope = sum(_contract(self.analytic[i], fs) for i, fs in factors.items()) / norm
            evaluate = self._evaluator(factors, norm)
            tape.append(slope)
            if self.convention == "estimated":
                with np.errstate(all="ignore"):
                    value, error, _, left, right, kink, noise, _ = estimate_derivative(
                        evaluate, 0, scale, self.f0, unit, self.unit_f)
                estimate = NumericDerivative(*(np.array([v]) for v in (value, error, 0.0, left,
                                                                       right)),
                                             kink=np.array([kink]), noise=np.array([noise]))
                outcome, _score, detail, _ = judge_against_numeric(
                    np.array([slope]), estimate, max(unit, self.unit_f), evaluate,
                    np.array([scale]), self.f0, self.unit_f)
                numeric.append(value)
                errors.append(error)
                outcomes.append(outcome)
                details.append(detail)
            else:
                eps = min(s["eps"] for s in (self.per_input[i] for i in positions))
                up, _ = evaluate(0, eps)
                down, _ = evaluate(0, -eps)
                numeric.append((up - down) / (2 * eps))
        position = positions[0] if len(positions) == 1 else -1
        shape = self.arrays[position].shape if position >= 0 else ()
        name = self.names[position] if position >= 0 else "all inputs"
        label = (f"{self.directions} random direction(s)" if position >= 0
                 else f"{self.directions} random direction(s) across all inputs")
        dtype = str(self.arrays[position].dtype) if position >= 0 else "mixed"
        if self.convention != "estimated":
            settings = {"convention": self.convention,
                        **self.per_input[positions[0] if position < 0 else position]}
            return _fixed_compare(np.array(tape), np.array(numeric), settings, position, shape,
                                  label, name, dtype)
        a, n = np.array(tape), np.array(numeric)
        order = ("fail", "unreliable", "kink", "pass")
        outcome = min(outcomes, key=order.index)
        tolerance = 2 * np.array(errors) + roundoff_allowance(a, n, unit=max(unit, self.unit_f))
        detail = next((d for d, o in zip(details, outcomes, strict=True) if o == outcome), "")
        return _input_check(a, n, scores(a, n, tolerance), position, shape, label, name, dtype,
                            outcome, numeric_error=max(errors), detail=detail)
