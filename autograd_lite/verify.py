"""Check hand-derived gradients three ways: formula vs tape vs finite differences.

A :class:`Derivation` names a loss built with autograd_lite, the inputs to evaluate it at, and
the closed forms a person derived: gradients with respect to inputs, gradients with respect to
named intermediates (the steps of the chain rule) and claims (two sides that must be equal).
:func:`verify` computes every target three ways and, when a formula is wrong, explains how
(:mod:`autograd_lite.diagnosis`) and where (the worst element, the first wrong step).

The verdict is about the *formula*, in float64: lower-precision inputs are promoted for it
(the report says which). Per element j of a target (see :mod:`autograd_lite.checking`):

* formula F vs tape T agree when |F_j − T_j| ≤ 64·(u·max(|F_j|, |T_j|) + s_j·u/u32), u = 2.2e-16;
  s_j is the measured spread between float32 and float64 runs of the tape and of the formula
  (the round-off of an element that is a small difference of large terms);
* the tape vs finite differences R ± E (step sweep with Richardson extrapolation, E the
  estimated truncation and round-off error) agree when |T_j − R_j| ≤ 2·E_j + that allowance.

Outcomes of a check: ``pass``; ``fail`` (with a diagnosis); ``kink`` (finite differences
disagree only at elements where the one-sided slopes differ, and the formula agrees with the
tape or takes one of the slopes there); ``unreliable`` (formula and tape agree but the finite
differences do not, and a Taylor-remainder test finds the gradient's remainder second-order:
the numeric reference is in doubt). Only ``fail`` fails. A derivation that cannot be run is an
error, one that runs past its time limit a timeout.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import numbers
import os
import signal
import stat
import sys
import sysconfig
import threading
import tokenize
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autograd_lite.checking import (
    COMPILE_FROM,
    MAX_LEVELS,
    ROUNDOFF_FACTOR,
    NumericDerivative,
    estimate_derivative,
    numeric_derivative,
    resolution_floor,
    roundoff_allowance,
    scores,
    taylor_order,
    taylor_says,
    unit_roundoff,
    worst,
)
from autograd_lite.diagnosis import Diagnosis, diagnose, explains
from autograd_lite.errors import AutogradLiteError, DerivationError
from autograd_lite.modes import name_hook, no_grad, retain_grads
from autograd_lite.tensor import Tensor, to_array

Inputs = Mapping[str, Any]

#: The per-derivation time limit of ``autograd-lite verify`` (``--timeout``), in seconds.
DEFAULT_TIMEOUT = 60.0

OUTCOMES = ("pass", "fail", "kink", "unreliable")
#: The parameter by which an ``hvps`` formula receives the direction v.
DIRECTION = "v"
UNIT = unit_roundoff(np.float64)


def tolerances() -> dict[str, float]:
    """The constants of the verifier's method (the ``tolerances`` of a report)."""
    return {"unit_roundoff": UNIT, "roundoff_factor": ROUNDOFF_FACTOR,
            "first_step": UNIT ** (1 / 3), "max_levels": MAX_LEVELS}


@dataclass
class Derivation:
    """A hand derivation to verify.

    ``inputs``: name → array, or a function of a ``numpy.random.Generator`` returning that.
    ``loss``: a function of Tensors (keyword arguments by input name) returning a scalar Tensor;
    it may name intermediates (``theta.name = "theta"``) where they are computed.
    ``gradients``: input name → function of the input arrays giving ∂loss/∂input.
    ``steps``: intermediate name → function of the input arrays giving ∂loss/∂intermediate.
    ``claims``: label → function of the input arrays giving ``(lhs, rhs)`` that must be equal.
    ``hessians``: input name → function of the input arrays giving ∂²loss/∂input², of shape
    ``input.shape + input.shape``. ``hvps``: input name → function of the input arrays and of
    a direction ``v`` (drawn by the verifier, standard normal, of the input's shape) giving the
    Hessian-vector product (∇²loss)·v, of the input's shape (for inputs too large for a
    Hessian).
    ``source``: the Markdown file with the derivation written out, relative to the Python file.
    Functions receive only the inputs their signature names (or all, with ``**kwargs``); a
    function with an ``rng`` parameter gets ``numpy.random.default_rng(seed)`` afresh at every
    call, so a loss that samples sees the same draws in every evaluation. Inputs with a
    gradient formula are leaves that require gradients; the others (data such as X or one-hot
    y) are constants of the graph.
    """

    name: str
    inputs: Inputs | Callable[[np.random.Generator], Inputs]
    loss: Callable[..., Tensor]
    gradients: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    steps: Mapping[str, Callable[..., Any]] | None = None
    claims: Mapping[str, Callable[..., Any]] | None = None
    source: str | None = None
    seed: int = 0
    batch: int | None = None
    file: str | None = None
    hessians: Mapping[str, Callable[..., Any]] | None = None
    hvps: Mapping[str, Callable[..., Any]] | None = None

    def __post_init__(self) -> None:
        where = f"Derivation '{self.name}'"
        if not isinstance(self.name, str) or not self.name:
            raise DerivationError(f"a Derivation needs a non-empty name, got {self.name!r}")
        if not callable(self.loss):
            raise DerivationError(f"{where}: loss must be a function returning a scalar Tensor")
        for label, table in (("gradients", self.gradients), ("steps", self.steps or {}),
                             ("claims", self.claims or {}), ("hessians", self.hessians or {}),
                             ("hvps", self.hvps or {})):
            if not isinstance(table, Mapping):
                raise DerivationError(f"{where}: {label} must be a dict of name → function")
            for key, fn in table.items():
                if not callable(fn):
                    raise DerivationError(f"{where}: {label}['{key}'] is not a function")
        if not (self.gradients or self.steps or self.claims or self.hessians or self.hvps):
            raise DerivationError(f"{where}: nothing to check (no gradients, steps, claims, "
                                  "hessians or hvps)")

    def make_inputs(self) -> dict[str, np.ndarray]:
        """The inputs as arrays, in the dtypes given (deterministic: a callable gets a
        generator seeded ``seed``)."""
        where = f"Derivation '{self.name}'"
        try:
            raw = self.inputs(np.random.default_rng(self.seed)) if callable(self.inputs) \
                else self.inputs
        except AutogradLiteError:
            raise
        except (Exception, SystemExit) as exc:
            raise DerivationError(f"{where}: inputs raised {type(exc).__name__}: {exc}") from None
        if not isinstance(raw, Mapping) or not raw:
            raise DerivationError(f"{where}: inputs must be a non-empty dict of name → array "
                                  "(or a function returning one)")
        arrays = {}
        for key, value in raw.items():
            try:
                arrays[key] = np.array(to_array(value, f"input '{key}'"))
            except AutogradLiteError as exc:
                raise DerivationError(f"{where}: {exc}") from None
        for table, keys in (("gradients", self.gradients), ("hessians", self.hessians or {}),
                            ("hvps", self.hvps or {})):
            for key in keys:
                if key not in arrays:
                    raise DerivationError(f"{where}: {table}['{key}'] names no input (inputs: "
                                          f"{', '.join(arrays)})")
                if arrays[key].dtype.kind != "f":
                    raise DerivationError(f"{where}: input '{key}' is {arrays[key].dtype}; only "
                                          f"floating inputs have {table}")
        if self.hvps and DIRECTION in arrays:
            raise DerivationError(f"{where}: an input is named '{DIRECTION}', the name hvps "
                                  "formulas receive the direction by; rename that input")
        return arrays


@dataclass
class Check:
    """One target checked: a gradient, a step or a claim.

    ``outcome`` is one of :data:`OUTCOMES`; ``passed`` is ``outcome != 'fail'``. The three
    comparisons are the worst element's |a − b| / tolerance (≤ 1 agrees; None when not made).
    ``worst_index`` is that element, with the formula's, the tape's and the numeric values
    there (``numeric_error`` the estimated error of the latter); ``kinks`` lists the elements
    where the one-sided slopes differ; ``reason`` says why an outcome is not a plain pass."""

    target: str
    kind: str
    passed: bool
    tape_vs_formula: float | None = None
    tape_vs_numeric: float | None = None
    formula_vs_numeric: float | None = None
    diagnosis: Diagnosis | None = None
    lhs: Any = None
    rhs: Any = None
    outcome: str = "pass"
    worst_index: list[int] | None = None
    formula_value: float | None = None
    tape_value: float | None = None
    numeric_value: float | None = None
    numeric_error: float | None = None
    relative_error: float | None = None
    kinks: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "target": self.target, "kind": self.kind, "passed": self.passed,
            "outcome": self.outcome, "tape_vs_formula": self.tape_vs_formula,
            "tape_vs_numeric": self.tape_vs_numeric,
            "formula_vs_numeric": self.formula_vs_numeric,
            "worst": None if self.worst_index is None else {
                "index": self.worst_index, "formula": self.formula_value,
                "tape": self.tape_value, "numeric": self.numeric_value,
                "numeric_error": self.numeric_error, "relative_error": self.relative_error},
            "kinks": self.kinks, "reason": self.reason,
            "diagnosis": self.diagnosis.to_json() if self.diagnosis else None,
        }
        if self.kind == "claim":
            data["lhs"], data["rhs"] = _jsonable(self.lhs), _jsonable(self.rhs)
        return data


@dataclass
class DerivationReport:
    """The result of verifying one derivation (or why it could not be verified).

    ``promoted`` maps the inputs given below float64 to their dtype (they were promoted to
    float64 for the verdict); ``timed_out`` is set when the time limit stopped it (``error``
    says so); ``tolerances`` describes the method and its constants."""

    name: str
    file: str | None
    source: str | None = None
    checks: list[Check] = field(default_factory=list)
    tolerances: dict[str, float] = field(default_factory=dict)
    first_wrong_step: str | None = None
    error: str | None = None
    loss: Tensor | None = field(default=None, repr=False)
    targets: dict[str, Any] = field(default_factory=dict, repr=False)
    promoted: dict[str, str] = field(default_factory=dict)
    timed_out: bool = False
    seconds: float | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(check.passed for check in self.checks)

    @property
    def outcome(self) -> str:
        """'timeout', 'error', 'fail', or 'pass' (kinks and unreliable references pass)."""
        if self.timed_out:
            return "timeout"
        if self.error is not None:
            return "error"
        return "pass" if self.passed else "fail"

    def _repr_html_(self) -> str:  # rich display in notebooks
        from autograd_lite.html_report import derivation_html

        return derivation_html(self)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "file": self.file, "passed": self.passed,
                                "outcome": self.outcome,
                                "checks": [c.to_json() for c in self.checks],
                                "tolerances": self.tolerances, "promoted": self.promoted,
                                "first_wrong_step": self.first_wrong_step}
        if self.error is not None:
            data["error"] = self.error
        return data


def _jsonable(value: Any) -> Any:
    array = np.asarray(value)
    return array.item() if array.ndim == 0 else array.tolist()


# ------------------------------------------------------------------------------- calling
class DerivationTimeout(BaseException):
    """Raised by the time limit inside a derivation's code (a BaseException, so that the
    code's own ``except Exception`` cannot swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`DerivationTimeout` in the main thread after ``seconds`` (SIGALRM with a
    real-time interval timer; no limit elsewhere, or when ``seconds`` is None or ≤ 0)."""
    usable = (seconds is not None and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise DerivationTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@functools.lru_cache(maxsize=1024)
def _parameters(fn: Callable[..., Any]) -> Mapping[str, inspect.Parameter] | None:
    """fn's parameters (cached: the loss is called thousands of times), None if unknown."""
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return None


def _call(fn: Callable[..., Any], available: Mapping[str, Any], seed: int, what: str) -> Any:
    """Call ``fn`` with the inputs its signature names (all with **kwargs), plus ``rng``."""
    try:
        parameters = _parameters(fn)
    except TypeError:  # not hashable
        parameters = _parameters.__wrapped__(fn)
    if parameters is None:
        return fn(**available)
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        kwargs = dict(available)
    else:
        kwargs = {k: v for k, v in available.items() if k in parameters}
        missing = [name for name, p in parameters.items() if p.default is p.empty and
                   p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name not in kwargs
                   and name != "rng"]
        if missing:
            raise DerivationError(f"{what} needs {', '.join(map(repr, missing))}, which are not "
                                  f"inputs (inputs: {', '.join(available)})")
    if "rng" in parameters:
        kwargs["rng"] = np.random.default_rng(seed)
    return fn(**kwargs)


def _guarded(fn: Callable[..., Any], available: Mapping[str, Any], seed: int, what: str) -> Any:
    """:func:`_call`, turning any exception (SystemExit too) into a DerivationError."""
    try:
        return _call(fn, available, seed, what)
    except AutogradLiteError as exc:
        if isinstance(exc, DerivationError) and str(exc).startswith(what):
            raise
        raise DerivationError(f"{what} failed: {exc}") from None
    except SystemExit as exc:
        raise DerivationError(f"{what} called sys.exit({exc.code!r}); a derivation must return "
                              "its result, not exit") from None
    except Exception as exc:
        raise DerivationError(f"{what} raised {type(exc).__name__}: {exc}") from None


def real_array(value: Any, what: str) -> np.ndarray:
    """``value`` (a formula's result) as a float64 array, or a DerivationError naming what it
    is when it is not a real array: complex values are refused, never truncated."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, (np.ndarray, np.generic, numbers.Number, list, tuple)):
        try:
            array = np.asarray(value)
        except ValueError as exc:
            raise DerivationError(f"{what} returned a ragged {type(value).__name__} ({exc}); "
                                  "return a NumPy array") from None
        if array.dtype.kind in "fiub":
            return array.astype(np.float64)
        if array.dtype.kind == "c":
            imag = float(np.abs(np.imag(array)).max(initial=0.0))
            raise DerivationError(f"{what} returned complex values (dtype {array.dtype}, "
                                  f"largest imaginary part {imag:.3g}); a gradient of a real "
                                  "loss is real: return a real array")
        raise DerivationError(f"{what} returned an array of dtype {array.dtype}; return a real "
                              "NumPy array")
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise DerivationError(f"{what} returned a {type(value).__name__} ({shown}); return a real "
                          "NumPy array of the target's shape")


def _formula(fn: Callable[..., Any], arrays: Mapping[str, np.ndarray], seed: int,
             what: str) -> Any:
    copies = {k: v.copy() for k, v in arrays.items()}  # a formula cannot change the inputs
    return _guarded(fn, copies, seed, what)


class _Evaluator:
    """Evaluates a derivation's loss: on the tape, then as a number many times, every time on
    fresh copies of the inputs (a loss that changes what it is handed affects nothing else)."""

    def __init__(self, derivation: Derivation, arrays: dict[str, np.ndarray]) -> None:
        self.derivation = derivation
        self.arrays = arrays
        self.plain_calls = 0
        self.compiled: Callable[..., Any] | None = None
        self.names = list(arrays)  # the compiled loss takes the inputs in this order
        # about 4 evaluations an element of each input with a gradient formula
        self.expected = 4 * sum(np.size(arrays[k]) for k in derivation.gradients if k in arrays)

    def value(self, arrays: Mapping[str, np.ndarray], perturb: tuple[str, Any] | None = None
              ) -> float:
        """The loss as a float, with the intermediate ``perturb[0]`` shifted by ``perturb[1]``.

        When there are many unperturbed evaluations to come (``checking.COMPILE_FROM``), the
        loss runs compiled from the second on, if it can be traced (al.compile: the same NumPy
        calls, so the same numbers; the seeded ``rng`` it may take draws the same values in
        every evaluation, so they are part of the program).
        """
        if perturb is None:
            self.plain_calls += 1
            if self.plain_calls == 2 and self.expected >= COMPILE_FROM:
                self.compiled = self._compile(arrays)
            if self.compiled is not None:
                return float(self.compiled(*[arrays[k] for k in self.names]))

        def shift(tensor: Tensor, name: str) -> None:
            if perturb is not None and name == perturb[0]:
                tensor.data = tensor.data + perturb[1]

        with no_grad(), name_hook(shift):
            out = self._loss({k: Tensor(v.copy()) for k, v in arrays.items()})
        return float(out.data)

    def _compile(self, arrays: Mapping[str, np.ndarray]) -> Callable[..., Any] | None:
        """The loss as a compiled function of the inputs' arrays (in ``arrays``' order), or
        None when it cannot be traced (a Python branch on a value, say): then it runs eagerly."""
        from autograd_lite.compile import compiled_or_none

        names = self.names
        return compiled_or_none(lambda *values: self._loss(dict(zip(names, values))),
                                *[arrays[k].copy() for k in names])

    def _loss(self, tensors: dict[str, Tensor]) -> Tensor:
        name = f"Derivation '{self.derivation.name}': loss"
        out = _guarded(self.derivation.loss, tensors, self.derivation.seed, name)
        if not isinstance(out, Tensor):
            raise DerivationError(f"{name} must return a Tensor built with autograd_lite, got "
                                  f"{type(out).__name__}")
        if out.size != 1:
            raise DerivationError(f"{name} must return a scalar, got shape {out.shape}; reduce "
                                  "it with .sum() or .mean()")
        return out

    def tape(self, step_names: Iterable[str], arrays: Mapping[str, np.ndarray] | None = None,
             all_floats: bool = False) -> tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]:
        """Run the loss on the tape and backpropagate; return the loss, the input tensors and
        the named intermediates (each keeping its gradient). Only inputs with a gradient,
        Hessian or Hessian-vector product formula require gradients (others are constants of
        the graph), unless a step needs more (then every floating input does)."""
        arrays = self.arrays if arrays is None else arrays
        wanted = set(step_names)
        named: dict[str, list[Tensor]] = {}

        def record(tensor: Tensor, name: str) -> None:
            named.setdefault(name, []).append(tensor)

        grads = (set(self.derivation.gradients) | set(self.derivation.hessians or {})
                 | set(self.derivation.hvps or {}))  # second order: on the graph too
        tensors = {k: Tensor(v.copy(), requires_grad=v.dtype.kind == "f" and
                             (all_floats or k in grads), name=k) for k, v in arrays.items()}
        with retain_grads(), name_hook(record):
            loss = self._loss(tensors)
        where = f"Derivation '{self.derivation.name}'"
        for name in wanted:
            found = named.get(name, [])
            if len(found) != 1:
                problem = "is never named" if not found else f"is named {len(found)} times"
                raise DerivationError(
                    f"{where}: step '{name}' {problem} in the loss; name exactly one "
                    f"intermediate that way (t.name = '{name}') where it is computed")
            if not found[0].requires_grad:
                if not all_floats:
                    return self.tape(step_names, arrays, all_floats=True)
                raise DerivationError(f"{where}: step '{name}' does not depend on any "
                                      "floating-point input")
        if grads or wanted:
            if not loss.requires_grad:
                raise DerivationError(f"{where}: the loss does not depend on any "
                                      "floating-point input")
            loss.backward(retain_graph=True)
        return loss, tensors, {name: named[name][0] for name in wanted}


# ------------------------------------------------------------------------------- judging
def _spread(a64: np.ndarray, a32: Any) -> np.ndarray | None:
    """|a32 − a64| per element (non-finite differences replaced by the largest finite one);
    None when the float32 run gave nothing comparable."""
    if a32 is None or np.shape(a32) != a64.shape:
        return None
    spread = np.abs(np.asarray(a32, np.float64) - a64)
    finite = np.isfinite(spread)
    if not finite.all():
        spread = np.where(finite, spread, float(spread[finite].max(initial=0.0)))
    return spread


def _largest(*spreads: np.ndarray | None) -> np.ndarray | None:
    present = [s for s in spreads if s is not None]
    return np.maximum.reduce(present) if present else None


def _add(*spreads: np.ndarray | None) -> np.ndarray | None:
    present = [s for s in spreads if s is not None]
    return sum(present[1:], present[0]) if present else None


def _located(check: Check, index: tuple[int, ...], F: np.ndarray | None, T: np.ndarray | None,
             numeric: NumericDerivative | None) -> None:
    """Record the element ``index`` as the worst one of ``check`` (nothing for no elements)."""
    if (F is not None and F.size == 0) or (T is not None and T.size == 0):
        return
    check.worst_index = list(index)
    if F is not None:
        check.formula_value = float(F[index])
    if T is not None:
        check.tape_value = float(T[index])
    if numeric is not None:
        check.numeric_value = float(numeric.value[index])
        check.numeric_error = float(numeric.error[index])
    if F is not None and T is not None:
        a, b = float(F[index]), float(T[index])
        top = max(abs(a), abs(b))
        check.relative_error = 0.0 if a == b else (abs(a - b) / top if top else None)


def _kink_list(numeric: NumericDerivative, elements: np.ndarray, F: np.ndarray,
               T: np.ndarray) -> list[dict[str, Any]]:
    return [{"index": [int(i) for i in idx], "left_slope": float(numeric.left[idx]),
             "right_slope": float(numeric.right[idx]), "formula": float(F[idx]),
             "tape": float(T[idx])} for idx in map(tuple, np.argwhere(elements))]


def _kink_reason(kinks: list[dict[str, Any]]) -> str:
    shown = "; ".join(f"{tuple(k['index'])}: left slope {k['left_slope']:.6g}, right slope "
                      f"{k['right_slope']:.6g}, formula took {k['formula']:.6g}, tape took "
                      f"{k['tape']:.6g}" for k in kinks[:4])
    more = f" and {len(kinks) - 4} more" if len(kinks) > 4 else ""
    return ("not differentiable at " + shown + more + " (the one-sided slopes differ, as at a "
            "ReLU's 0, |x| at 0 or a tie of a max); the central difference is their average "
            "and is not a reference there")


def judge(target: str, kind: str, F: np.ndarray, T: np.ndarray, spread: np.ndarray | None,
          numeric: NumericDerivative, taylor: Callable[[int, float], float | None],
          batch: int | None, values: np.ndarray | None = None, label: str | None = None,
          floor: float = 0.0) -> Check:
    """The verdict on one gradient or step target (see the module docstring). ``label`` names
    a second-order target in the messages (the finite differences are then of the gradient);
    ``floor`` is the loss's resolution (:func:`checking.resolution_floor`), added to every
    element's round-off allowance."""
    said = label or f"∂J/∂{target}"
    remainder = ("|∇J(x + h e) − ∇J(x) − h·H e|" if label else "|J(x + h e) − J(x) − h·g|")
    rule = ("a registered op's JVP or VJP is wrong or not differentiable (check it with "
            "autograd_lite.check_grads(f, args, order=2))" if label else
            "a registered op's VJP is wrong (check it with autograd_lite.gradcheck)")
    if F.shape != T.shape:
        check = Check(target, kind, False, outcome="fail",
                      diagnosis=diagnose(F, T, target, batch))
        return check
    allowance = roundoff_allowance(F, T, spread) + floor
    numeric_tolerance = 2 * numeric.error + allowance
    ft = scores(F, T, allowance)
    tn = scores(T, numeric.value, numeric_tolerance)
    fn = scores(F, numeric.value, numeric_tolerance)
    check = Check(target, kind, True, float(ft.max(initial=0.0)), float(tn.max(initial=0.0)),
                  float(fn.max(initial=0.0)))
    bad_ft, bad_tn = ft > 1, tn > 1
    if not bad_ft.any():
        doubtful = ~numeric.reliable() & ~numeric.kink
        if not bad_tn.any() and doubtful.any():  # agreement, but only within a wide error bar
            with np.errstate(divide="ignore", invalid="ignore"):
                width = np.where(doubtful, numeric.error / np.abs(numeric.value), -1.0)
            index = worst(np.nan_to_num(width, nan=np.inf))
            order = taylor(int(np.ravel_multi_index(index, T.shape)) if T.ndim else 0,
                           float(T[index]))
            if taylor_says(order) != "right":
                bad_tn = doubtful
        if not bad_tn.any():
            _located(check, worst(ft), F, T, numeric)
            return check
        index = worst(tn)
        _located(check, index, F, T, numeric)
        smooth = bad_tn & ~numeric.kink
        if not smooth.any():
            check.outcome = "kink"
            check.kinks = _kink_list(numeric, bad_tn, F, T)
            check.reason = _kink_reason(check.kinks)
            return check
        index = worst(np.where(smooth, tn, -1.0))
        _located(check, index, F, T, numeric)
        order = taylor(int(np.ravel_multi_index(index, T.shape)) if T.ndim else 0,
                       float(T[index]))
        estimate = (f"finite differences give {numeric.value[index]:.10g} ± "
                    f"{numeric.error[index]:.2g} at {index}, formula and tape "
                    f"{T[index]:.10g}")
        if taylor_says(order) == "wrong":
            check.outcome, check.passed = "fail", False
            check.diagnosis = Diagnosis(
                "tape", f"{said}: the formula agrees with the tape, but both disagree "
                f"with the loss itself: {estimate}, and the Taylor remainder "
                f"{remainder} shrinks as h^{order:.1f} (a right derivative gives h²). "
                f"{rule[0].upper() + rule[1:]}, and the formula repeats the mistake.",
                index=list(index))
            return check
        check.outcome = "unreliable"
        how = (f"the Taylor remainder shrinks as h^{order:.1f}, as for a right gradient"
               if taylor_says(order) == "right" else
               "the Taylor remainder cannot tell (noise or a jump dominates it"
               + (f": order {order:.1f})" if order is not None else ")"))
        check.reason = (f"numeric reference unreliable: {estimate}; formula and tape agree to "
                        f"round-off and {how}. The finite differences, not the formula, are in "
                        "doubt (a function varying faster than the steps tried, or noisy).")
        return check
    # formula and tape differ somewhere
    low = np.minimum(numeric.left, numeric.right) - numeric_tolerance
    high = np.maximum(numeric.left, numeric.right) + numeric_tolerance
    within = numeric.kink & (low <= F) & (high >= F)
    unexplained = bad_ft & ~within
    if not unexplained.any():
        check.outcome = "kink"
        check.kinks = _kink_list(numeric, bad_ft | (bad_tn & numeric.kink), F, T)
        check.reason = _kink_reason(check.kinks) + "; the formula took a one-sided slope"
        _located(check, worst(ft), F, T, numeric)
        return check
    check.outcome, check.passed = "fail", False
    index = worst(np.where(unexplained, ft, -1.0))
    _located(check, index, F, T, numeric)
    reliable = numeric.reliable()
    if (np.all(fn[unexplained] <= 1)
            and np.all(reliable[unexplained]) and np.all(bad_tn[unexplained])):
        check.diagnosis = Diagnosis(
            "tape", f"{said}: the formula agrees with finite differences "
            f"({numeric.value[index]:.10g} ± {numeric.error[index]:.2g} at {index}) but the "
            f"tape does not ({T[index]:.10g}): the formula looks right and {rule}.",
            index=list(index))
    else:
        check.diagnosis = diagnose(F, T, target, batch, tolerance=allowance, values=values)
    return check


def judge_claim(label: str, lhs: np.ndarray, rhs: np.ndarray, spread: np.ndarray | None,
                batch: int | None) -> Check:
    """A claim holds when its sides agree element-wise to round-off (the same allowance as
    formula vs tape). A side that is exactly zero is compared with the round-off of the other
    side's float32 spread, or absolutely to 64·u when there is none."""
    if lhs.shape != rhs.shape:
        return Check(label, "claim", False, lhs=lhs, rhs=rhs, outcome="fail",
                     diagnosis=Diagnosis("shape", f"the claim '{label}' does not hold: its sides "
                                                  f"have shapes {lhs.shape} and {rhs.shape}"))
    allowance = roundoff_allowance(lhs, rhs, spread)
    if not (np.any(lhs) and np.any(rhs)):  # a claim that something vanishes: no own scale
        allowance = np.maximum(allowance, ROUNDOFF_FACTOR * UNIT)
    score = scores(lhs, rhs, allowance)
    check = Check(label, "claim", bool((score <= 1).all()), tape_vs_formula=None, lhs=lhs,
                  rhs=rhs)
    check.outcome = "pass" if check.passed else "fail"
    if lhs.size:
        _located(check, worst(score), lhs, rhs, None)
    if not check.passed:
        check.diagnosis = diagnose(lhs, rhs, label, batch, claim=True, tolerance=allowance)
    return check


# -------------------------------------------------------------------------- second order
def _relabelled(diagnosis: Diagnosis, target: str, label: str, what: str) -> Diagnosis:
    """A gradient's diagnosis said of a second-order target (``label``, a ``what``)."""
    diagnosis.message = (diagnosis.message.replace(f"∂J/∂{target}", label, 1)
                         .replace("of the gradient", f"of the {what}")
                         .replace("a gradient has", f"a {what} has"))
    return diagnosis


def diagnose_hessian(F: np.ndarray, T: np.ndarray, target: str, shape: tuple[int, ...],
                     batch: int | None, tolerance: np.ndarray | None) -> Diagnosis:
    """Explain how a Hessian formula ``F`` differs from the tape's Hessian ``T`` (of shape
    ``shape + shape``): index pairs transposed, a formula that is not symmetric (its symmetric
    part right: a transposed term missed), then the gradient diagnoses (sign, factor, shape)."""
    label = f"∂²J/∂{target}²"
    n = int(np.prod(shape, dtype=int))
    if len(shape) == 2:  # a matrix variable: its index pairs transposed, both or one
        a, b = 0, 1
        for axes, how in (((b, a, 2 + b, 2 + a), "both index pairs transposed: it is the "
                           f"Hessian with respect to {target}ᵀ"),
                          ((a, b, 2 + b, 2 + a), "the second index pair transposed (the "
                           "layouts of the two derivatives mixed)"),
                          ((b, a, 2 + a, 2 + b), "the first index pair transposed (the "
                           "layouts of the two derivatives mixed)")):
            if F.ndim == 4 and explains(F.transpose(axes), T) and not explains(F, T):
                return Diagnosis("transpose", f"{label}: the formula (shape {F.shape}) is "
                                 f"the Hessian with {how}; the Hessian of {target} (shape "
                                 f"{shape}) has shape {T.shape}, element [i, j, k, l] = "
                                 f"∂²J/∂{target}_ij ∂{target}_kl.")
    if F.shape != T.shape:
        if F.size == T.size and explains(F.reshape(T.shape), T):
            return Diagnosis("shape", f"{label}: the formula has the right values in the shape "
                             f"{F.shape}; a Hessian has the variable's shape twice, {T.shape} "
                             "(reshape it).")
        return _relabelled(diagnose(F, T, target, batch), target, label, "Hessian") \
            if F.size != T.size or F.ndim != 2 else Diagnosis(
                "shape", f"{label}: the formula has shape {F.shape} but a Hessian has the "
                f"variable's shape twice, {T.shape}.")
    Fm, Tm = F.reshape(n, n), T.reshape(n, n)
    tol = (np.asarray(tolerance, np.float64).reshape(n, n) if tolerance is not None
           else 1e-9 * np.maximum(np.abs(Fm), np.abs(Tm)))
    skew = np.abs(Fm - Fm.T) > np.maximum(tol, tol.T)
    note = ""
    if skew.any():
        i, j = (int(k) for k in np.argwhere(skew)[0])
        at = (np.unravel_index(i, shape), np.unravel_index(j, shape)) if shape else ((), ())
        pair = (tuple(int(k) for k in at[0]) + tuple(int(k) for k in at[1]),
                tuple(int(k) for k in at[1]) + tuple(int(k) for k in at[0]))
        if explains((Fm + Fm.T) / 2, Tm):
            return Diagnosis(
                "transpose", f"{label}: the formula is not symmetric (at {pair[0]}: "
                f"{F[pair[0]]:.10g}, at {pair[1]}: {F[pair[1]]:.10g}), as a Hessian is "
                "(∂²J/∂a∂b = ∂²J/∂b∂a), and its symmetric part (F + Fᵀ)/2 is the Hessian: a "
                "transposed term is missing (e.g. 2A where A + Aᵀ is meant, for J = x A xᵀ).",
                index=list(pair[0]))
        note = (f" The formula is not symmetric either (at {pair[0]}: {F[pair[0]]:.10g}, at "
                f"{pair[1]}: {F[pair[1]]:.10g}), so it is no Hessian of a twice-differentiable "
                "loss.")
    found = _relabelled(diagnose(F, T, target, batch, tolerance=tolerance), target, label,
                        "Hessian")
    found.message += note
    return found


class _GradientProbe:
    """The tape's gradient of the loss with respect to one input, at moved values of that input
    (every other input fixed; each evaluation on fresh copies), remembered per move."""

    def __init__(self, evaluator: _Evaluator, arrays: Mapping[str, np.ndarray],
                 name: str) -> None:
        self.evaluator, self.arrays, self.name = evaluator, arrays, name
        self.cache: dict[Any, np.ndarray] = {}

    def loss_of(self, arrays: Mapping[str, np.ndarray] | None = None
                ) -> Callable[[Any], Tensor]:
        """The loss as a function of this input alone (for autograd_lite.func)."""
        fixed = self.arrays if arrays is None else arrays

        def loss(x: Any) -> Tensor:
            tensors = {k: Tensor(v.copy()) for k, v in fixed.items() if k != self.name}
            tensors[self.name] = x
            return self.evaluator._loss(tensors)
        return loss

    def gradient(self, x: np.ndarray) -> np.ndarray:
        tensors = {k: Tensor(v.copy()) for k, v in self.arrays.items() if k != self.name}
        tensors[self.name] = leaf = Tensor(x.copy(), requires_grad=True)
        out = self.evaluator._loss(tensors)
        if out.requires_grad:
            out.backward()
        return np.zeros(x.shape) if leaf.grad is None else np.asarray(leaf.grad, np.float64)

    def moved(self, key: Any, x: np.ndarray) -> np.ndarray:
        if key not in self.cache:
            self.cache[key] = self.gradient(x).reshape(-1)
        return self.cache[key]


def _numeric(estimates: list[tuple[Any, ...]], shape: tuple[int, ...]) -> NumericDerivative:
    keys = ("value", "error", "step", "left", "right", "kink", "noise")
    columns = {k: np.array([e[n] for e in estimates]).reshape(shape)
               for n, k in enumerate(keys)}
    columns["kink"] = columns["kink"].astype(bool)
    return NumericDerivative(**columns, evaluations=int(sum(e[7] for e in estimates)))


def numeric_hessian(probe: _GradientProbe, x: np.ndarray, g0: np.ndarray
                    ) -> tuple[NumericDerivative, Callable[[int, float], float | None]]:
    """Central differences of the tape's gradient, element [i, j] = ∂g_i/∂x_j by the step sweep
    of :mod:`autograd_lite.checking` (each move of x_j evaluated once for every i), and the
    Taylor-remainder test of element (flat index i·n + j) for the judge."""
    n, flat, gflat = x.size, x.reshape(-1), g0.reshape(-1)

    def evaluator(i: int) -> Callable[[int, float], tuple[float, float]]:
        def evaluate(j: int, h: float) -> tuple[float, float]:
            moved = flat.copy()
            moved[j] = flat[j] + h
            return float(probe.moved((j, h), moved.reshape(x.shape))[i]), float(moved[j] -
                                                                                flat[j])
        return evaluate

    estimates = []
    for i in range(n):
        evaluate = evaluator(i)
        for j in range(n):
            with np.errstate(all="ignore"):
                estimates.append(estimate_derivative(evaluate, j, float(flat[j]),
                                                     float(gflat[i]), UNIT, UNIT))

    def taylor(k: int, slope: float) -> float | None:
        i, j = divmod(k, n)
        return taylor_order(evaluator(i), j, float(flat[j]), float(gflat[i]), slope, UNIT, UNIT)

    return _numeric(estimates, x.shape + x.shape), taylor


def numeric_hvp(probe: _GradientProbe, x: np.ndarray, v: np.ndarray, g0: np.ndarray
                ) -> tuple[NumericDerivative, Callable[[int, float], float | None]]:
    """Central differences of the tape's gradient along v: element i = d/dt g_i(x + t v) at 0
    (the step sweep on t, its first step scaled by max|x| / max|v|), and the Taylor test."""
    gflat = g0.reshape(-1)
    top = float(np.abs(v).max(initial=0.0))
    scale = float(np.abs(x).max(initial=0.0)) / top if top > 0 else 1.0

    def evaluate(i: int, t: float) -> tuple[float, float]:
        return float(probe.moved(t, x + t * v)[i]), t

    estimates = []
    for i in range(x.size):
        with np.errstate(all="ignore"):
            estimates.append(estimate_derivative(evaluate, i, scale, float(gflat[i]), UNIT,
                                                 UNIT))

    def taylor(i: int, slope: float) -> float | None:
        return taylor_order(evaluate, i, scale, float(gflat[i]), slope, UNIT, UNIT)

    return _numeric(estimates, x.shape), taylor


def _tape_second(what: str, run: Callable[[], Any]) -> np.ndarray:
    """The tape's Hessian or Hessian-vector product, or a DerivationError naming the target
    (an op without a JVP rule, say)."""
    try:
        return np.asarray(run(), np.float64)
    except AutogradLiteError as exc:
        where = what[:what.index(":") + 2]  # "Derivation 'name': "
        detail = str(exc)[len(where):] if str(exc).startswith(where) else str(exc)
        raise DerivationError(f"{what}: the tape cannot differentiate the loss twice: "
                              f"{detail}") from None


def judge_second_order(target: str, kind: str, F: np.ndarray, T: np.ndarray,
                       spread: np.ndarray | None, numeric: NumericDerivative,
                       taylor: Callable[[int, float], float | None], batch: int | None,
                       shape: tuple[int, ...]) -> Check:
    """The verdict on a Hessian or Hessian-vector product target: :func:`judge` (formula vs the
    tape's second derivative vs finite differences of the tape's gradient), with the diagnoses
    of :func:`diagnose_hessian` for a Hessian."""
    label = f"∂²J/∂{target}²" if kind == "hessian" else f"(∇²_{target} J)·v"
    check = judge(target, kind, F, T, spread, numeric, taylor, batch, label=label)
    if check.diagnosis is None or check.diagnosis.kind == "tape":
        return check
    tolerance = roundoff_allowance(F, T, spread) if F.shape == T.shape else None
    if kind == "hessian":
        check.diagnosis = diagnose_hessian(F, T, target, shape, batch, tolerance)
    else:
        check.diagnosis = _relabelled(diagnose(F, T, target, batch, tolerance=tolerance),
                                      target, label, "Hessian-vector product")
    return check


def _verify_second_order(derivation: Derivation, report: DerivationReport,
                         evaluator: _Evaluator, arrays: dict[str, np.ndarray],
                         samples32: tuple[dict[str, np.ndarray], ...],
                         tensors: dict[str, Tensor]) -> None:
    """Check every Hessian and Hessian-vector product of ``derivation`` three ways."""
    targets = [("hessian", k, fn) for k, fn in (derivation.hessians or {}).items()]
    targets += [("hvp", k, fn) for k, fn in (derivation.hvps or {}).items()]
    for kind, name, fn in targets:
        report.checks.append(_second_order_check(derivation, kind, name, fn, evaluator, arrays,
                                                 samples32))
        report.targets.setdefault(name, tensors[name])


def _second_order_check(derivation: Derivation, kind: str, name: str, fn: Callable[..., Any],
                        evaluator: _Evaluator, arrays: dict[str, np.ndarray],
                        samples32: tuple[dict[str, np.ndarray], ...]) -> Check:
    """One Hessian (``kind`` 'hessian') or Hessian-vector product ('hvp') target: the formula,
    the tape's (forward-over-reverse: autograd_lite.func.hessian and .hvp) and central
    differences of the tape's gradient, with the float32 spread of formula and tape."""
    from autograd_lite import func

    seed = derivation.seed
    what = (f"Derivation '{derivation.name}': {'hessians' if kind == 'hessian' else 'hvps'}"
            f"['{name}']")
    x = arrays[name]
    probe = _GradientProbe(evaluator, arrays, name)
    g0 = probe.gradient(x)
    if kind == "hessian":
        def tape_at(a: Mapping[str, np.ndarray]) -> Any:
            return func.hessian(probe.loss_of(a))(a[name].copy())
        numeric, taylor = numeric_hessian(probe, x, g0)
        given: dict[str, Any] = arrays
        given32 = list(samples32)
    else:
        v = np.random.default_rng([seed, 2]).standard_normal(x.shape)

        def tape_at(a: Mapping[str, np.ndarray]) -> Any:
            fixed = {k: b for k, b in a.items() if k != DIRECTION}
            return func.hvp(probe.loss_of(fixed), (a[name].copy(),),
                            (a[DIRECTION].copy(),))[1][0]
        numeric, taylor = numeric_hvp(probe, x, v, g0)
        given = {**arrays, DIRECTION: v}
        given32 = [{**a, DIRECTION: v.astype(np.float32)} for a in samples32]
    tape = _tape_second(what, lambda: tape_at(given))
    F = real_array(_formula(fn, given, seed, what), what)
    spreads = []
    for sample in given32:
        f32 = _in_float32(lambda s=sample: real_array(_formula(fn, s, seed, what), what))
        t32 = _in_float32(lambda s=sample: tape_at(s))
        if F.shape == tape.shape:
            spreads.append(_add(_spread(tape, t32), _spread(F, f32)))
    return judge_second_order(name, kind, F, tape, _largest(*spreads), numeric, taylor,
                              derivation.batch, x.shape)


# ------------------------------------------------------------------------------ verifying
def verify(derivation: Derivation, timeout: float | None = None) -> DerivationReport:
    """Verify every gradient, step and claim of ``derivation`` three ways. With ``timeout``
    (seconds; main thread only), a derivation still running after it is stopped and reported
    as timed out."""
    import time

    report = DerivationReport(derivation.name, derivation.file, derivation.source)
    start = time.perf_counter()
    try:
        with time_limit(timeout):
            _verify_into(derivation, report)
    except DerivationError as exc:
        report.error = str(exc)
    except DerivationTimeout:
        report.timed_out = True
        report.error = (f"Derivation '{derivation.name}' did not finish within {timeout:g} s "
                        "(the time limit; raise it with --timeout SECONDS)")
    report.seconds = time.perf_counter() - start
    if report.error is not None:
        report.checks = []
    return report


def _promote(arrays: dict[str, np.ndarray], dtype: Any) -> dict[str, np.ndarray]:
    return {k: v.astype(dtype) if v.dtype.kind == "f" else v for k, v in arrays.items()}


def _in_float32(run: Callable[[], Any]) -> Any:
    """``run()`` for the float32 spread; None if it fails in any way (then no spread is used)."""
    try:
        with np.errstate(all="ignore"):
            return run()
    except (Exception, SystemExit):
        return None


def _verify_into(derivation: Derivation, report: DerivationReport) -> None:
    given = derivation.make_inputs()
    report.promoted = {k: str(v.dtype) for k, v in given.items()
                       if v.dtype.kind == "f" and v.dtype != np.float64}
    arrays = _promote(given, np.float64)
    arrays32 = _promote(given, np.float32)
    # a second float32 sample, every input one ulp up: one sample alone can cancel exactly
    nudged32 = {k: np.nextafter(v, np.float32(np.inf)) if v.dtype.kind == "f" else v
                for k, v in arrays32.items()}
    samples32 = (arrays32, nudged32)
    steps = dict(derivation.steps or {})
    evaluator = _Evaluator(derivation, arrays)
    loss, tensors, intermediates = evaluator.tape(steps)
    report.loss = loss
    tapes32 = [_in_float32(lambda a=a: evaluator.tape(steps, a)) for a in samples32]
    seed, where = derivation.seed, f"Derivation '{derivation.name}'"
    f0 = evaluator.value(arrays)
    report.tolerances = tolerances()

    def formula_of(fn: Callable[..., Any], what: str) -> tuple[np.ndarray, Any]:
        value = real_array(_formula(fn, arrays, seed, what), what)
        values32 = [_in_float32(lambda a=a: real_array(_formula(fn, a, seed, what), what))
                    for a in samples32]
        return value, values32

    def run(target: str, kind: str, fn: Callable[..., Any], tape: np.ndarray,
            tapes_32: list[Any], values: np.ndarray, evaluate: Any) -> Check:
        what = f"{where}: {'steps' if kind == 'step' else 'gradients'}['{target}']"
        F, F32 = formula_of(fn, what)
        numeric = numeric_derivative(evaluate, values, f0, UNIT, UNIT)
        spread = (_largest(*(_add(_spread(tape, t32), _spread(F, f32))
                             for t32, f32 in zip(tapes_32, F32, strict=True)))
                  if F.shape == tape.shape else None)

        def taylor(j: int, slope: float) -> float | None:
            return taylor_order(evaluate, j, float(values.reshape(-1)[j]), f0, slope, UNIT,
                                UNIT)

        return judge(target, kind, F, tape, spread, numeric, taylor, derivation.batch, values,
                     floor=resolution_floor(f0, values))

    # the steps of the chain, in the order the backward pass reaches them (newest node first)
    for step in sorted(steps, key=lambda s: -intermediates[s].node.seq):
        tensor = intermediates[step]
        values = np.asarray(tensor.data, np.float64)

        def at_step(j: int, h: float, step: str = step, values: np.ndarray = values
                    ) -> tuple[float, float]:
            delta = np.zeros(values.shape)
            moved = values.reshape(-1)[j] + h
            delta.flat[j] = h
            return evaluator.value(arrays, (step, delta)), float(moved - values.reshape(-1)[j])

        grads32 = [t32[2][step].grad if t32 is not None and step in t32[2] else None
                   for t32 in tapes32]
        report.checks.append(run(step, "step", steps[step], np.asarray(tensor.grad, np.float64),
                                 grads32, values, at_step))
        report.targets[step] = tensor
    for name, fn in derivation.gradients.items():
        def at_input(j: int, h: float, name: str = name) -> tuple[float, float]:
            shifted = dict(arrays)
            moved = arrays[name].copy()
            original = moved.flat[j]
            moved.flat[j] = original + h
            shifted[name] = moved
            return evaluator.value(shifted), float(moved.flat[j] - original)

        grad = tensors[name].grad
        tape = np.zeros(arrays[name].shape) if grad is None else np.asarray(grad, np.float64)
        grads32 = [None if t32 is None else
                   (np.zeros(arrays[name].shape) if t32[1][name].grad is None
                    else t32[1][name].grad) for t32 in tapes32]
        report.checks.append(run(name, "gradient", fn, tape, grads32, arrays[name], at_input))
        report.targets[name] = tensors[name]
    _verify_second_order(derivation, report, evaluator, arrays, samples32, tensors)
    for label, fn in (derivation.claims or {}).items():
        what = f"{where}: claims['{label}']"
        result = _formula(fn, arrays, seed, what)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise DerivationError(f"{what} must return a pair (lhs, rhs), got "
                                  f"{type(result).__name__}")
        lhs, rhs = (real_array(side, f"{what} ({part})")
                    for side, part in zip(result, ("lhs", "rhs"), strict=True))
        spreads = []
        for sample in samples32:
            result32 = _in_float32(lambda fn=fn, what=what, a=sample: _formula(fn, a, seed, what))
            if isinstance(result32, (tuple, list)) and len(result32) == 2:
                sides32 = _in_float32(lambda r=result32, what=what: [real_array(x, what)
                                                                     for x in r])
                if sides32 is not None:
                    spreads.append(_add(_spread(lhs, sides32[0]), _spread(rhs, sides32[1])))
        spread = _largest(*spreads)
        report.checks.append(judge_claim(label, lhs, rhs, spread, derivation.batch))
    failing_steps = [c.target for c in report.checks if c.kind == "step" and not c.passed]
    if failing_steps:
        report.first_wrong_step = failing_steps[0]
        for check in report.checks:
            if check.kind == "gradient" and not check.passed and check.diagnosis:
                check.diagnosis.message += (f" The first wrong step of the chain is "
                                            f"'{failing_steps[0]}'.")


# -------------------------------------------------------------------------------- loading
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple({os.path.realpath(paths[k]) + os.sep
                  for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths})


def _inside(file: str, folder: str) -> bool:
    return os.path.realpath(file).startswith(folder)


def _helper_names(folder: Path) -> set[str]:
    """Names a file in ``folder`` could import from it: its modules and packages."""
    names = set()
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.name.endswith(".py"):
                names.add(entry.name[:-3])
            elif entry.is_dir() and os.path.exists(os.path.join(entry.path, "__init__.py")):
                names.add(entry.name)
    return names


@contextlib.contextmanager
def derivation_namespace(folder: str | Path) -> Iterator[None]:
    """Run derivation code from ``folder`` in a namespace of its own: the folder first on
    sys.path, no bytecode written, any cached module of the same name as one of its helper
    modules hidden (unless it comes from the standard library or site-packages), and every
    module imported from the folder forgotten afterwards. So a helper module imported by one
    folder's files never serves another folder's."""
    folder_path = os.path.realpath(folder) + os.sep
    library = _library_roots()
    saved_path, saved_bytecode = list(sys.path), sys.dont_write_bytecode
    before = set(sys.modules)
    hidden: dict[str, types.ModuleType] = {}
    for name in _helper_names(Path(folder)):
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            file = getattr(sys.modules[key], "__file__", None)
            if file and os.path.realpath(file).startswith(library):
                continue
            hidden[key] = sys.modules.pop(key)
    sys.path.insert(0, folder_path.rstrip(os.sep))
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.path[:] = saved_path
        sys.dont_write_bytecode = saved_bytecode
        for key in set(sys.modules) - before:
            file = getattr(sys.modules.get(key), "__file__", None)
            if file is None or _inside(file, folder_path):
                sys.modules.pop(key, None)
        sys.modules.update(hidden)


_LOADED = [0]


def regular_file_bytes(path: Path, error: type[AutogradLiteError], rule: str,
                       limit: int | None = None) -> bytes:
    """The bytes of ``path``, opened only if it is a regular file (a FIFO or a device would
    block); ``error`` is raised, ending with ``rule``, for anything else. With ``limit``, a
    larger file is refused unread."""
    try:
        status = os.stat(path)
    except OSError as exc:
        raise error(f"{path}: cannot read it ({exc.strerror})") from None
    if not stat.S_ISREG(status.st_mode):
        kind = ("a folder" if stat.S_ISDIR(status.st_mode) else
                "a FIFO (named pipe)" if stat.S_ISFIFO(status.st_mode) else
                "a socket" if stat.S_ISSOCK(status.st_mode) else "a device or special file")
        raise error(f"{path}: is {kind}, not a regular file; {rule}")
    if limit is not None and status.st_size > limit:
        raise error(f"{path}: {status.st_size} bytes; the limit is {limit} bytes")
    try:
        with open(path, "rb") as handle:
            return handle.read() if limit is None else handle.read(limit + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read it ({exc.strerror})") from None


def read_source(path: Path) -> str:
    """The text of a derivation file: only a regular file is opened, and it must decode (UTF-8,
    or the encoding its coding line declares)."""
    data = regular_file_bytes(path, DerivationError,
                              "derivation files must be regular .py files")
    try:
        encoding, _ = tokenize.detect_encoding(_lines(data))
        return data.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        detail = (f"byte 0x{data[exc.start]:02x} at position {exc.start} is not valid "
                  f"{exc.encoding}" if isinstance(exc, UnicodeDecodeError) else str(exc))
        raise DerivationError(f"{path}: is not valid UTF-8 Python source ({detail}); save it "
                              "as UTF-8") from None


def _lines(data: bytes) -> Callable[[], bytes]:
    lines = iter(data.splitlines(keepends=True))
    return lambda: next(lines, b"")


def load_file(path: str | Path, timeout: float | None = None,
              isolate: bool = True) -> list[Derivation]:
    """Run a derivation file (Python the user chose to run) and return the Derivations it
    defines at module level, in order. Nothing is written: no bytecode cache, no files. With
    ``isolate`` (default) it runs in :func:`derivation_namespace` of its folder; ``timeout``
    limits the time it may take (seconds). Any failure, ``sys.exit`` included, is a
    DerivationError naming the file."""
    path = Path(path)
    source = read_source(path)
    try:
        code = compile(source, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise DerivationError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except ValueError as exc:  # e.g. a NUL byte
        raise DerivationError(f"{path}: cannot compile it ({exc})") from None
    _LOADED[0] += 1
    module = types.ModuleType(f"autograd_lite_derivation_{_LOADED[0]}_{path.stem}")
    module.__file__ = str(path)
    namespace = derivation_namespace(path.parent) if isolate else contextlib.nullcontext()
    sys.modules[module.__name__] = module
    try:
        with namespace, time_limit(timeout):
            exec(code, module.__dict__)
    except DerivationError as exc:
        raise DerivationError(f"{path}: {exc}") from None
    except DerivationTimeout:
        raise DerivationError(f"{path}: loading it did not finish within {timeout:g} s (the "
                              "time limit; raise it with --timeout SECONDS)") from None
    except SystemExit as exc:
        raise DerivationError(f"{path}: called sys.exit({exc.code!r}) while loading; a "
                              "derivation file must only define Derivations") from None
    except Exception as exc:
        raise DerivationError(f"{path}: running it raised {type(exc).__name__}: {exc}") from None
    finally:
        if isolate:
            sys.modules.pop(module.__name__, None)
    found = [v for v in vars(module).values() if isinstance(v, Derivation)]
    if not found:
        raise DerivationError(f"{path}: defines no autograd_lite.verify.Derivation at module "
                              "level")
    for derivation in found:
        derivation.file = str(path)
    return found


#: The suffixes of writeups (checked as written, never run): Markdown and LaTeX.
WRITEUP_SUFFIXES = (".md", ".markdown", ".tex")


def is_writeup(path: str | Path) -> bool:
    """A Markdown or LaTeX file: checked as a writeup (docs/writeups.md), not run as Python."""
    return Path(path).suffix.lower() in WRITEUP_SUFFIXES


def derivation_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files named, and the derivation files (``*.py``) and writeups (``*.md``,
    ``*.markdown``, ``*.tex``) directly inside the folders named (sub-folders excluded; FIFOs
    and other special files included, to be refused), sorted (so ``x.md`` comes before
    ``x.py``)."""
    files: list[Path] = []
    for raw_path in paths:
        path = Path(raw_path)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if not p.is_dir()
                                and (p.suffix == ".py" or is_writeup(p))))
        else:
            files.append(path)
    return files


def check_writeup(path_or_text: str | Path, dims: Mapping[str, int] | None = None, seed: int = 0,
                  convention: str | None = None) -> DerivationReport:
    """Check a Markdown or LaTeX writeup as it is written (a path, or the text itself): every
    equation judged by the verifier's own core, what is not understood listed with its line and
    the reason. ``dims`` sets symbolic sizes (``{"D_x": 10}``), ``seed`` the first of the
    seeded draws, ``convention`` "row" (the default) or "column". Returns a
    :class:`autograd_lite.writeup.WriteupReport` (a DerivationReport); see docs/writeups.md."""
    from autograd_lite.writeup import check_writeup as check

    return check(path_or_text, dims=dict(dims or {}), seed=seed, convention=convention)


def _verify_writeup(path: Path, dims: Mapping[str, int] | None, convention: str | None,
                    timeout: float | None) -> DerivationReport:
    """A writeup's report, with the per-derivation time limit (a writeup's work is bounded,
    but a limit is a limit)."""
    import time

    from autograd_lite.writeup import WriteupReport

    start = time.perf_counter()
    try:
        with time_limit(timeout):
            report = check_writeup(path, dims, convention=convention)
    except DerivationTimeout:
        report = WriteupReport(name=path.stem, file=str(path), timed_out=True)
        report.error = (f"{path}: checking the writeup did not finish within {timeout:g} s "
                        "(the time limit; raise it with --timeout SECONDS)")
    report.seconds = time.perf_counter() - start
    return report


def _has_math(report: DerivationReport) -> bool:
    return bool(report.checks or getattr(report, "not_checked", None)
                or getattr(report, "equations", None))


def verify_paths(paths: Iterable[str | Path], timeout: float | None = DEFAULT_TIMEOUT,
                 dims: Mapping[str, int] | None = None, convention: str | None = None
                 ) -> tuple[list[DerivationReport], list[str]]:
    """Verify every derivation file and writeup in ``paths``; return the reports and the errors
    (each naming its file or derivation). A broken file, a missing path, a folder without
    derivation files or writeups, or a derivation that errs or times out does not stop the
    others; a Markdown file without any math in a folder is not a writeup (a README) and is
    passed over. ``timeout`` is the limit for loading each file and for verifying each derivation
    or writeup (seconds; None for none); ``dims`` and ``convention`` are for writeups (see
    :func:`check_writeup`). A writeup is one report of its own, beside the report of a ``.py``
    file of the same derivation."""
    reports: list[DerivationReport] = []
    errors: list[str] = []
    for raw_path in paths:
        path = Path(raw_path)
        if not path.exists() and not path.is_symlink():
            errors.append(f"{path}: no such file or folder")
            continue
        files = derivation_files([path])
        if path.is_dir() and not files:
            errors.append(f"{path}: no derivation files (*.py) or writeups (*.md, *.tex) in "
                          "this folder")
        for file in files:
            if is_writeup(file):
                report = _verify_writeup(file, dims, convention, timeout)
                if report.error is None and not _has_math(report):
                    if path.is_dir():  # a README or notes beside the derivations
                        continue
                    report.error = (f"{file}: no equations found (math goes in $…$, $$…$$, "
                                    "\\(…\\), \\[…\\] or an equation/align environment)")
                if report.error is not None:
                    errors.append(report.error if report.error.startswith(f"{file}:")
                                  else f"{file}: {report.error}")
                reports.append(report)
                continue
            with derivation_namespace(file.parent):
                try:
                    derivations = load_file(file, timeout=timeout, isolate=False)
                except DerivationError as exc:
                    errors.append(str(exc))
                    continue
                for derivation in derivations:
                    report = verify(derivation, timeout=timeout)
                    if report.error is not None:
                        errors.append(f"{file}: {report.error}")
                    reports.append(report)
    if not reports and not errors:
        errors.append("no derivations found in " + ", ".join(map(str, paths)))
    return reports, errors
