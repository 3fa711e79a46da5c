"""The one place where writeup checking meets the verifier: report types and judgement.

Writeups produce the verifier's own report types (:class:`~autograd_lite.verify.Check`,
:class:`~autograd_lite.verify.DerivationReport`), extended with where each check stands in the
file, and are judged by the verifier's own judging core (:func:`autograd_lite.verify.judge` and
:func:`~autograd_lite.verify.judge_claim`): the same element-wise criterion, the same estimated
finite-difference errors, the same outcomes and diagnoses. :func:`judge` only adapts a link's
two sides to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograd_lite.verify import Check, DerivationReport, judge_claim
from autograd_lite.verify import judge as judge_target
from autograd_lite.writeup.model import Numeric


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


def judge(target: str, kind: str, formula: Any, truth: Any, numeric: Numeric | None,
          spread: np.ndarray | None, batch: int | None = None,
          values: np.ndarray | None = None, floor: float = 0.0) -> Check:
    """Judge one link by the verifier's own core. With ``numeric`` (the truth is a derivative:
    ``truth`` from the tape, ``numeric`` its finite differences with their estimated errors)
    exactly as :func:`autograd_lite.verify.judge` judges a gradient or step (``formula`` the
    other side; outcomes pass, fail, kink, unreliable); without, as
    :func:`autograd_lite.verify.judge_claim` judges a claim (``formula`` = left side, ``truth``
    = right side). ``spread`` is the measured float32-vs-float64 difference of the two sides
    (the round-off allowance of ill-conditioned elements); ``values`` the values of the
    variable differentiated by (to recognise σ(1 − z) for 1 − σ(z)); ``floor`` the resolution
    of the function differentiated (:func:`autograd_lite.checking.resolution_floor`)."""
    formula = np.asarray(formula, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    if spread is not None and np.shape(spread) != truth.shape:
        spread = None
    if numeric is None:
        return judge_claim(target, formula, truth, spread, batch)
    if values is not None and np.shape(values) != truth.shape:
        values = None
    return judge_target(target, kind, formula, truth, spread, numeric.estimate, numeric.taylor,
                        batch, values, floor=floor)
