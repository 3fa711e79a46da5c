"""Check hand-derived gradients three ways: formula vs tape vs finite differences.

A :class:`Derivation` names a loss built with autograd_lite, the inputs to evaluate it at, and
the closed forms a person derived: gradients with respect to inputs, gradients with respect to
named intermediates (the steps of the chain rule) and claims (two sides that must be equal).
:func:`verify` computes every target three ways and, when a formula is wrong, explains how
(:mod:`autograd_lite.diagnosis`) and where (the worst element, the first wrong step).

Tolerances, for inputs of a dtype with unit round-off u (2.2e-16 for float64):

* formula vs tape: relative error ≤ 1e4·u (2.2e-12), both being exact up to round-off;
* anything vs finite differences: step h_j = u^(1/3)·max(1, |x_j|) (6.1e-6 for float64),
  whose error is O(h² + u·|J|/h); relative error ≤ 100·u^(2/3)·(1 + max(1, |J|)),
  J the loss value (about 7.3e-9·(1 + |J|) for float64).

Relative error is max |a − b| / max(1, max |a|, max |b|) (:func:`diagnosis.relative_error`).
"""

from __future__ import annotations

import inspect
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autograd_lite.diagnosis import Diagnosis, diagnose, relative_error
from autograd_lite.errors import AutogradLiteError, DerivationError
from autograd_lite.modes import name_hook, no_grad, retain_grads
from autograd_lite.tensor import Tensor, to_array

Inputs = Mapping[str, Any]


@dataclass
class Derivation:
    """A hand derivation to verify.

    ``inputs``: name → array, or a function of a ``numpy.random.Generator`` returning that.
    ``loss``: a function of Tensors (keyword arguments by input name) returning a scalar Tensor;
    it may name intermediates (``theta.name = "theta"``) where they are computed.
    ``gradients``: input name → function of the input arrays giving ∂loss/∂input.
    ``steps``: intermediate name → function of the input arrays giving ∂loss/∂intermediate.
    ``claims``: label → function of the input arrays giving ``(lhs, rhs)`` that must be equal.
    ``source``: the Markdown file with the derivation written out, relative to the Python file.
    Functions receive only the inputs their signature names (or all, with ``**kwargs``); a
    function with an ``rng`` parameter gets ``numpy.random.default_rng(seed)`` afresh at every
    call, so a loss that samples sees the same draws in every evaluation.
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

    def __post_init__(self) -> None:
        where = f"Derivation '{self.name}'"
        if not isinstance(self.name, str) or not self.name:
            raise DerivationError(f"a Derivation needs a non-empty name, got {self.name!r}")
        if not callable(self.loss):
            raise DerivationError(f"{where}: loss must be a function returning a scalar Tensor")
        for label, table in (("gradients", self.gradients), ("steps", self.steps or {}),
                             ("claims", self.claims or {})):
            if not isinstance(table, Mapping):
                raise DerivationError(f"{where}: {label} must be a dict of name → function")
            for key, fn in table.items():
                if not callable(fn):
                    raise DerivationError(f"{where}: {label}['{key}'] is not a function")
        if not (self.gradients or self.steps or self.claims):
            raise DerivationError(f"{where}: nothing to check (no gradients, steps or claims)")

    def make_inputs(self) -> dict[str, np.ndarray]:
        """The inputs as arrays (deterministic: a callable gets a generator seeded ``seed``)."""
        raw = self.inputs(np.random.default_rng(self.seed)) if callable(self.inputs) \
            else self.inputs
        if not isinstance(raw, Mapping) or not raw:
            raise DerivationError(f"Derivation '{self.name}': inputs must be a non-empty dict "
                                  "of name → array (or a function returning one)")
        arrays = {}
        for key, value in raw.items():
            try:
                arrays[key] = np.array(to_array(value, f"input '{key}'"))
            except AutogradLiteError as exc:
                raise DerivationError(f"Derivation '{self.name}': {exc}") from None
        for key in self.gradients:
            if key not in arrays:
                raise DerivationError(f"Derivation '{self.name}': gradients['{key}'] names no "
                                      f"input (inputs: {', '.join(arrays)})")
            if arrays[key].dtype.kind != "f":
                raise DerivationError(f"Derivation '{self.name}': input '{key}' is "
                                      f"{arrays[key].dtype}; only floating inputs have gradients")
        return arrays


@dataclass
class Check:
    """One target checked: a gradient, a step or a claim."""

    target: str
    kind: str
    passed: bool
    tape_vs_formula: float | None = None
    tape_vs_numeric: float | None = None
    formula_vs_numeric: float | None = None
    diagnosis: Diagnosis | None = None
    lhs: Any = None
    rhs: Any = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "target": self.target, "kind": self.kind, "passed": self.passed,
            "tape_vs_formula": self.tape_vs_formula, "tape_vs_numeric": self.tape_vs_numeric,
            "formula_vs_numeric": self.formula_vs_numeric,
            "diagnosis": self.diagnosis.to_json() if self.diagnosis else None,
        }
        if self.kind == "claim":
            data["lhs"], data["rhs"] = _jsonable(self.lhs), _jsonable(self.rhs)
        return data


@dataclass
class DerivationReport:
    """The result of verifying one derivation (or why it could not be verified)."""

    name: str
    file: str | None
    source: str | None = None
    checks: list[Check] = field(default_factory=list)
    tolerances: dict[str, float] = field(default_factory=dict)
    first_wrong_step: str | None = None
    error: str | None = None
    loss: Tensor | None = field(default=None, repr=False)
    targets: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def passed(self) -> bool:
        return self.error is None and all(check.passed for check in self.checks)

    def _repr_html_(self) -> str:  # rich display in notebooks
        return __import__("autograd_lite.html_report", fromlist=["_"]).derivation_html(self)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "file": self.file, "passed": self.passed,
                                "checks": [c.to_json() for c in self.checks],
                                "tolerances": self.tolerances,
                                "first_wrong_step": self.first_wrong_step}
        if self.error is not None:
            data["error"] = self.error
        return data


def _jsonable(value: Any) -> Any:
    array = np.asarray(value)
    return array.item() if array.ndim == 0 else array.tolist()


# ------------------------------------------------------------------------------- calling
def _call(fn: Callable[..., Any], available: Mapping[str, Any], seed: int, what: str) -> Any:
    """Call ``fn`` with the inputs its signature names (all with **kwargs), plus ``rng``."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
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


def _formula(fn: Callable[..., Any], arrays: Mapping[str, np.ndarray], seed: int,
             what: str) -> Any:
    copies = {k: v.copy() for k, v in arrays.items()}  # a formula cannot change the inputs
    try:
        return _call(fn, copies, seed, what)
    except AutogradLiteError:
        raise
    except Exception as exc:
        raise DerivationError(f"{what} raised {type(exc).__name__}: {exc}") from None


class _Evaluator:
    """Evaluates a derivation's loss: on the tape once, then as a number many times."""

    def __init__(self, derivation: Derivation, arrays: dict[str, np.ndarray]) -> None:
        self.derivation = derivation
        self.arrays = arrays

    def value(self, arrays: Mapping[str, np.ndarray], perturb: tuple[str, Any] | None = None
              ) -> float:
        """The loss as a float, with the intermediate ``perturb[0]`` shifted by ``perturb[1]``."""
        def shift(tensor: Tensor, name: str) -> None:
            if perturb is not None and name == perturb[0]:
                tensor.data = tensor.data + perturb[1]

        with no_grad(), name_hook(shift):
            out = self._loss({k: Tensor(v) for k, v in arrays.items()})
        return float(out.data)

    def _loss(self, tensors: dict[str, Tensor]) -> Tensor:
        name = f"Derivation '{self.derivation.name}': loss"
        try:
            out = _call(self.derivation.loss, tensors, self.derivation.seed, name)
        except AutogradLiteError as exc:
            raise DerivationError(f"{name} failed: {exc}") from None
        except Exception as exc:
            raise DerivationError(f"{name} raised {type(exc).__name__}: {exc}") from None
        if not isinstance(out, Tensor):
            raise DerivationError(f"{name} must return a Tensor built with autograd_lite, got "
                                  f"{type(out).__name__}")
        if out.size != 1:
            raise DerivationError(f"{name} must return a scalar, got shape {out.shape}; reduce "
                                  "it with .sum() or .mean()")
        return out

    def tape(self, step_names: Iterable[str]) -> tuple[Tensor, dict[str, Tensor],
                                                       dict[str, Tensor]]:
        """Run the loss on the tape and backpropagate; return the loss, the input tensors and
        the named intermediates (each keeping its gradient)."""
        wanted = set(step_names)
        named: dict[str, list[Tensor]] = {}

        def record(tensor: Tensor, name: str) -> None:
            named.setdefault(name, []).append(tensor)

        tensors = {k: Tensor(v.copy(), requires_grad=v.dtype.kind == "f", name=k)
                   for k, v in self.arrays.items()}
        with retain_grads(), name_hook(record):
            loss = self._loss(tensors)
        for name in wanted:
            found = named.get(name, [])
            if len(found) != 1:
                problem = "is never named" if not found else f"is named {len(found)} times"
                raise DerivationError(
                    f"Derivation '{self.derivation.name}': step '{name}' {problem} in the loss; "
                    f"name exactly one intermediate that way (t.name = '{name}') where it is "
                    "computed")
            if not found[0].requires_grad:
                raise DerivationError(f"Derivation '{self.derivation.name}': step '{name}' does "
                                      "not depend on any floating-point input")
        if not loss.requires_grad:
            raise DerivationError(f"Derivation '{self.derivation.name}': the loss does not "
                                  "depend on any floating-point input")
        loss.backward(retain_graph=True)
        return loss, tensors, {name: named[name][0] for name in wanted}


def _numeric(evaluate: Callable[[int, float], float], values: np.ndarray,
             unit: float) -> np.ndarray:
    """Central differences with the step h_j = u^(1/3)·max(1, |x_j|) for each element j."""
    grad = np.zeros(values.shape, dtype=np.float64)
    flat = values.reshape(-1)
    for j in range(flat.size):
        h = unit ** (1 / 3) * max(1.0, abs(float(flat[j])))
        grad.flat[j] = (evaluate(j, h) - evaluate(j, -h)) / (2 * h)
    return grad


def tolerances_for(dtype: np.dtype, loss_value: float) -> dict[str, float]:
    """The tolerances stated in this module's docstring, for a dtype and a loss value."""
    u = float(np.finfo(dtype).eps)
    return {"unit_roundoff": u, "exact": 1e4 * u, "step": u ** (1 / 3),
            "numeric": 100 * u ** (2 / 3) * (1 + max(1.0, abs(loss_value)))}


def verify(derivation: Derivation) -> DerivationReport:
    """Verify every gradient, step and claim of ``derivation`` three ways."""
    report = DerivationReport(derivation.name, derivation.file, derivation.source)
    try:
        _verify_into(derivation, report)
    except DerivationError as exc:
        report.error = str(exc)
    return report


def _verify_into(derivation: Derivation, report: DerivationReport) -> None:
    arrays = derivation.make_inputs()
    floats = [a.dtype for a in arrays.values() if a.dtype.kind == "f"]
    dtype = max(floats, key=lambda d: np.finfo(d).eps) if floats else np.dtype(np.float64)
    steps = dict(derivation.steps or {})
    evaluator = _Evaluator(derivation, arrays)
    loss, tensors, intermediates = evaluator.tape(steps)
    report.loss = loss
    tol = tolerances_for(dtype, float(loss.data))
    report.tolerances = tol
    unit = tol["unit_roundoff"]
    seed = derivation.seed

    def judge(target: str, kind: str, formula: Any, tape: np.ndarray,
              numeric: np.ndarray) -> Check:
        formula = np.asarray(formula, dtype=np.float64)
        tape_vs_numeric = relative_error(tape, numeric)
        if formula.shape != tape.shape:
            return Check(target, kind, False, None, tape_vs_numeric, None,
                         diagnose(formula, tape, target, derivation.batch))
        check = Check(target, kind, True, relative_error(formula, tape), tape_vs_numeric,
                      relative_error(formula, numeric))
        check.passed = (check.tape_vs_formula <= tol["exact"]
                        and tape_vs_numeric <= tol["numeric"]
                        and check.formula_vs_numeric <= tol["numeric"])
        if not check.passed:
            if tape_vs_numeric > tol["numeric"] and check.formula_vs_numeric <= tol["numeric"]:
                check.diagnosis = Diagnosis(
                    "unknown", f"the formula for ∂J/∂{target} agrees with finite differences "
                    "but the tape does not: a non-differentiable point, or a wrong VJP in a "
                    "registered op (check it with autograd_lite.gradcheck)")
            else:
                check.diagnosis = diagnose(formula, tape, target, derivation.batch)
        return check

    # the steps of the chain, in the order the backward pass reaches them (newest node first)
    ordered_steps = sorted(steps, key=lambda s: -intermediates[s].node.seq)
    for step in ordered_steps:
        tensor = intermediates[step]
        values = tensor.data

        def at_step(j: int, h: float, step: str = step, values: np.ndarray = values) -> float:
            delta = np.zeros(values.shape, dtype=values.dtype)
            delta.flat[j] = h
            return evaluator.value(arrays, (step, delta))

        numeric = _numeric(at_step, values, unit)
        formula = _formula(steps[step], arrays, seed,
                           f"Derivation '{derivation.name}': steps['{step}']")
        report.checks.append(judge(step, "step", formula, np.asarray(tensor.grad, np.float64),
                                   numeric))
        report.targets[step] = tensor
    for name, fn in derivation.gradients.items():
        def at_input(j: int, h: float, name: str = name) -> float:
            shifted = dict(arrays)
            shifted[name] = arrays[name].copy()
            shifted[name].flat[j] += h
            return evaluator.value(shifted)

        numeric = _numeric(at_input, arrays[name], unit)
        formula = _formula(fn, arrays, seed, f"Derivation '{derivation.name}': "
                                             f"gradients['{name}']")
        grad = tensors[name].grad
        tape = np.zeros(arrays[name].shape) if grad is None else np.asarray(grad, np.float64)
        check = judge(name, "gradient", formula, tape, numeric)
        report.checks.append(check)
        report.targets[name] = tensors[name]
    for label, fn in (derivation.claims or {}).items():
        result = _formula(fn, arrays, seed, f"Derivation '{derivation.name}': claims['{label}']")
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise DerivationError(f"Derivation '{derivation.name}': claims['{label}'] must "
                                  "return a pair (lhs, rhs)")
        lhs, rhs = (np.asarray(side, dtype=np.float64) for side in result)
        if lhs.shape != rhs.shape:
            check = Check(label, "claim", False, lhs=lhs, rhs=rhs, diagnosis=Diagnosis(
                "shape", f"claim '{label}': the sides have shapes {lhs.shape} and {rhs.shape}"))
        else:
            error = relative_error(lhs, rhs)
            check = Check(label, "claim", error <= tol["exact"], lhs=lhs, rhs=rhs)
            if not check.passed:
                check.diagnosis = diagnose(lhs, rhs, label, derivation.batch)
                check.diagnosis.message = (f"claim '{label}' does not hold (relative error "
                                           f"{error:.3g}): " + check.diagnosis.message)
        report.checks.append(check)
    failing_steps = [c.target for c in report.checks if c.kind == "step" and not c.passed]
    if failing_steps:
        report.first_wrong_step = failing_steps[0]
        for check in report.checks:
            if check.kind == "gradient" and not check.passed and check.diagnosis:
                check.diagnosis.message += (f" The first wrong step of the chain is "
                                            f"'{failing_steps[0]}'.")


# -------------------------------------------------------------------------------- loading
def load_file(path: str | Path) -> list[Derivation]:
    """Run a derivation file (Python the user chose to run) and return the Derivations it
    defines at module level, in order. Nothing is written: no bytecode cache, no files."""
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DerivationError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise DerivationError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    module = types.ModuleType(f"autograd_lite_derivation_{path.stem}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module
    saved_path, saved_bytecode = list(sys.path), sys.dont_write_bytecode
    sys.path.insert(0, str(path.parent.resolve()))
    sys.dont_write_bytecode = True
    try:
        exec(code, module.__dict__)
    except DerivationError as exc:
        raise DerivationError(f"{path}: {exc}") from None
    except Exception as exc:
        raise DerivationError(f"{path}: running it raised {type(exc).__name__}: {exc}") from None
    finally:
        sys.path[:] = saved_path
        sys.dont_write_bytecode = saved_bytecode
    found = [v for v in vars(module).values() if isinstance(v, Derivation)]
    if not found:
        raise DerivationError(f"{path}: defines no autograd_lite.verify.Derivation at module "
                              "level")
    for derivation in found:
        derivation.file = str(path)
    return found


def derivation_files(paths: Iterable[str | Path]) -> list[Path]:
    """The ``.py`` files named, and those directly inside the folders named, sorted."""
    files: list[Path] = []
    for raw_path in paths:
        path = Path(raw_path)
        if path.is_dir():
            files.extend(sorted(p for p in path.glob("*.py") if p.is_file()))
        else:
            files.append(path)
    return files


def verify_paths(paths: Iterable[str | Path]) -> tuple[list[DerivationReport], list[str]]:
    """Verify every derivation in ``paths``; return the reports and the load errors (each
    naming its file). A broken file does not stop the others."""
    reports: list[DerivationReport] = []
    errors: list[str] = []
    for path in derivation_files(paths):
        try:
            derivations = load_file(path)
        except DerivationError as exc:
            errors.append(str(exc))
            continue
        for derivation in derivations:
            report = verify(derivation)
            if report.error is not None:
                errors.append(f"{path}: {report.error}")
            reports.append(report)
    return reports, errors
