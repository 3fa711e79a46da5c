"""The one place where writeup checking meets the verifier: report types and judgement.

Writeups produce the verifier's own report types (:class:`~autograd_lite.verify.Check`,
:class:`~autograd_lite.verify.DerivationReport`), extended with where each check stands in the
file, and are judged by the verifier's criteria and diagnoses. Everything that depends on the
verifier's internals is in :func:`judge`, so that it can be re-pointed at another judging core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograd_lite.diagnosis import Diagnosis, diagnose, relative_error
from autograd_lite.verify import Check, DerivationReport, tolerances_for


@dataclass
class WriteupCheck(Check):
    """A check of one link of a writeup's chain: ``line`` is the 1-based line of its ``=``,
    ``latex`` the link's text."""

    line: int = 0
    latex: str = ""

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data["line"], data["latex"] = self.line, self.latex
        return data


@dataclass
class WriteupReport(DerivationReport):
    """A writeup's report: the checks, plus what was not checked (``not_checked``: line, latex,
    reason), every equation with its status (``equations``), the sizes chosen (``sizes``), the
    shapes inferred for undeclared inputs (``inferred``) and the vector ``convention``."""

    not_checked: list[dict[str, Any]] = field(default_factory=list)
    equations: list[dict[str, Any]] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    inferred: dict[str, list[int]] = field(default_factory=dict)
    convention: str = "row"
    draws: int = 0

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data.update(kind="writeup", not_checked=self.not_checked, equations=self.equations,
                    sizes=self.sizes, inferred=self.inferred, convention=self.convention,
                    draws=self.draws)
        return data


def tolerances(loss_value: float) -> dict[str, float]:
    """The verifier's tolerances (float64) for a loss of this size."""
    return tolerances_for(np.dtype(np.float64), loss_value)


def judge(target: str, kind: str, formula: Any, truth: Any, numeric: Any | None,
          tol: dict[str, float], batch: int | None = None) -> Check:
    """Judge one link. With ``numeric`` (the truth is a derivative: ``truth`` from the tape,
    ``numeric`` from finite differences) as the verifier judges a gradient; without, as it
    judges a claim (``formula`` = left side, ``truth`` = right side)."""
    formula = np.asarray(formula, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    if numeric is None:
        if formula.shape != truth.shape:
            return Check(target, kind, False, lhs=formula, rhs=truth, diagnosis=Diagnosis(
                "shape", f"the sides have shapes {formula.shape} and {truth.shape}"))
        error = relative_error(formula, truth)
        check = Check(target, kind, bool(error <= tol["exact"]), lhs=formula, rhs=truth)
        if not check.passed:
            check.diagnosis = diagnose(formula, truth, "x", batch)
            check.diagnosis.message = (f"the sides differ (relative error {error:.3g}): "
                                       + _claim_words(check.diagnosis.message))
            _numbers(check, formula, truth)
        return check
    numeric = np.asarray(numeric, dtype=np.float64)
    tape_vs_numeric = relative_error(truth, numeric)
    if formula.shape != truth.shape:
        return Check(target, kind, False, None, tape_vs_numeric, None,
                     diagnose(formula, truth, target, batch))
    check = Check(target, kind, True, relative_error(formula, truth), tape_vs_numeric,
                  relative_error(formula, numeric))
    check.passed = bool(check.tape_vs_formula <= tol["exact"]
                        and tape_vs_numeric <= tol["numeric"]
                        and check.formula_vs_numeric <= tol["numeric"])
    if not check.passed:
        if tape_vs_numeric > tol["numeric"] and check.formula_vs_numeric <= tol["numeric"]:
            check.diagnosis = Diagnosis(
                "unknown", f"the formula for {target} agrees with finite differences but the "
                "tape does not: a non-differentiable point, or a wrong VJP in a registered op")
        else:
            check.diagnosis = diagnose(formula, truth, target, batch)
            _numbers(check, formula, truth)
    return check


def _numbers(check: Check, formula: np.ndarray, truth: np.ndarray) -> None:
    """Two single numbers are always a constant factor apart: say what they are instead."""
    if truth.size == 1 and check.diagnosis is not None and check.diagnosis.kind == "scale":
        check.diagnosis = Diagnosis(
            "unknown", f"{float(formula.reshape(-1)[0]):.10g} where "
            f"{float(truth.reshape(-1)[0]):.10g} is right (at one draw of the inputs). "
            "Check that step of the derivation (a function confused with another, such as "
            "σ(1 − z) for 1 − σ(z)?).")


def _claim_words(message: str) -> str:
    """The diagnosis of a claim speaks of the left side against the right side."""
    return (message.replace("∂J/∂x has", "the left side has")
            .replace("∂J/∂x is", "the left side is")
            .replace("∂J/∂x differs", "the left side differs")
            .replace("the formula", "the left side").replace("the gradient", "the right side")
            .replace("truth", "right side"))
