"""Explain how a hand-derived gradient differs from the true one.

:func:`diagnose` tests, in order, the mistakes people make when deriving gradients by hand: a
transposed matrix gradient, a missing sum or mean over the batch axis, right values in the
wrong layout, any other shape mismatch, a flipped sign, a constant factor (a forgotten 1/N, a
stray 2), and otherwise names the worst element.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

KINDS = ("sign", "transpose", "scale", "batch_sum", "shape", "unknown")

# A hypothesis about a wrong formula ("it is the transpose", "it is 20 times too large") is
# accepted when it explains the formula to this relative precision.
HYPOTHESIS_TOLERANCE = 1e-6


@dataclass
class Diagnosis:
    """What is wrong: ``kind`` (one of :data:`KINDS`), a sentence, the factor (formula ÷ truth)
    for ``scale``, and the worst element's index where the shapes agree."""

    kind: str
    message: str
    factor: float | None = None
    index: list[int] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "message": self.message}
        if self.factor is not None:
            data["factor"] = self.factor
        data["index"] = self.index
        return data


def relative_error(a: Any, b: Any) -> float:
    """max |a − b| / max(1, max |a|, max |b|): normwise, with CS224N's guard of 1 so that tiny
    gradients are compared absolutely."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size == 0 and b.size == 0:
        return 0.0
    scale = max(1.0, float(np.abs(a).max(initial=0.0)), float(np.abs(b).max(initial=0.0)))
    return float(np.abs(a - b).max(initial=0.0)) / scale


def _explains(candidate: np.ndarray, truth: np.ndarray) -> bool:
    """True when ``candidate`` equals ``truth`` to the hypothesis precision (relative to the
    truth's own scale, so that small gradients are judged fairly)."""
    if candidate.shape != truth.shape:
        return False
    scale = max(float(np.abs(truth).max(initial=0.0)), np.finfo(np.float64).tiny)
    return float(np.abs(candidate - truth).max(initial=0.0)) <= HYPOTHESIS_TOLERANCE * scale


def _nice(factor: float, batch: int | None) -> str:
    """A factor as people would say it: 'N = 20', '1/N', '2', '-1/2', '0.731'."""
    if batch:
        if abs(factor - batch) <= 1e-9 * batch:
            return f"N = {batch} (the batch size)"
        if abs(factor * batch - 1) <= 1e-9:
            return f"1/N = 1/{batch} (the batch size)"
    fraction = Fraction(factor).limit_denominator(64)
    if abs(float(fraction) - factor) <= 1e-9 * max(1.0, abs(factor)):
        return str(fraction)
    return f"{factor:.6g}"


def diagnose(formula: Any, truth: Any, target: str = "x", batch: int | None = None) -> Diagnosis:
    """Explain how ``formula`` (the hand-derived gradient for ``target``) differs from
    ``truth`` (the tape's gradient, which has ``target``'s shape). ``batch`` is the number of
    examples, when there is a batch, to recognise factors of N and 1/N."""
    F = np.asarray(formula, dtype=np.float64)
    T = np.asarray(truth, dtype=np.float64)
    if F.shape != T.shape:
        return _diagnose_shape(F, T, target)
    if F.ndim == 2 and F.shape[0] == F.shape[1] > 1 and _explains(F.T, T) and \
            not _explains(F, T):
        return Diagnosis("transpose", f"∂J/∂{target} is transposed: the formula gives the "
                         f"transpose of the gradient (e.g. δᵀh where hᵀδ is meant).",
                         index=_worst(F, T))
    norm_t = float(np.sum(T * T))
    if norm_t > 0:
        factor = float(np.sum(F * T)) / norm_t
        if factor != 0 and _explains(F, factor * T):
            if abs(factor + 1) <= 1e-9:
                return Diagnosis("sign", f"∂J/∂{target} has the wrong sign: the formula is the "
                                 "negative of the gradient (e.g. y − ŷ where ŷ − y is meant).",
                                 index=_worst(F, T))
            if abs(factor - 1) > 1e-9:
                return Diagnosis(
                    "scale", f"∂J/∂{target} is off by a constant factor: formula ÷ truth = "
                    f"{_nice(factor, batch)}. Look for a missing or extra 1/N (mean versus sum "
                    "over the batch) or a stray constant.", factor=factor, index=_worst(F, T))
    index = _worst(F, T)
    differing = int(np.sum(~np.isclose(F, T, rtol=1e-9, atol=1e-12)))
    return Diagnosis(
        "unknown", f"∂J/∂{target} differs in {differing} of {F.size} elements; the worst is "
        f"at {tuple(index)}: formula {F[tuple(index)]:.10g}, truth {T[tuple(index)]:.10g}. "
        "Check that step of the derivation (a function confused with another, such as "
        "σ(1 − z) for 1 − σ(z)?).", index=index)


def _worst(F: np.ndarray, T: np.ndarray) -> list[int]:
    if F.ndim == 0:
        return []
    return [int(i) for i in np.unravel_index(int(np.argmax(np.abs(F - T))), F.shape)]


def _diagnose_shape(F: np.ndarray, T: np.ndarray, target: str) -> Diagnosis:
    if F.ndim == 2 and F.shape == T.shape[::-1]:
        if _explains(F.T, T):
            return Diagnosis(
                "transpose", f"∂J/∂{target} is transposed: the formula has shape {F.shape} but "
                f"{target} has shape {T.shape}, and its transpose is the right gradient. In the "
                "row-vector convention ∂J/∂W = hᵀδ (the input's transpose on the left).")
        return Diagnosis(
            "shape", f"∂J/∂{target} has shape {F.shape}, the transpose of {target}'s shape "
            f"{T.shape}: that is the numerator-layout (Jacobian) convention; here a gradient has "
            "the shape of its variable (denominator layout). Its values are wrong as well.")
    for axis in range(F.ndim):
        kept = F.shape[:axis] + F.shape[axis + 1:]
        if kept != T.shape and F.shape[:axis] + (1,) + F.shape[axis + 1:] != T.shape:
            continue
        for how, reduced in (("sum", F.sum(axis=axis)), ("mean", F.mean(axis=axis))):
            if _explains(reduced.reshape(T.shape), T):
                return Diagnosis(
                    "batch_sum", f"∂J/∂{target} is missing a {how} over axis {axis}: the "
                    f"formula gives one row per example (shape {F.shape}) and its {how} over "
                    f"that axis is the gradient (shape {T.shape}). A parameter shared by all "
                    f"examples, like a bias, gets the {how} of their gradients.")
    if F.size == T.size and _explains(F.reshape(T.shape), T):
        hint = ("a column vector where the row-vector convention has a row"
                if F.ndim == 2 and F.shape[1] == 1 else "reshape it to the variable's shape")
        return Diagnosis("shape", f"∂J/∂{target} has the right values in the wrong shape: "
                         f"{F.shape} instead of {T.shape} ({hint}).")
    return Diagnosis(
        "shape", f"∂J/∂{target} has shape {F.shape} but must have the shape of {target}, "
        f"{T.shape} (a gradient has the shape of its variable).")
