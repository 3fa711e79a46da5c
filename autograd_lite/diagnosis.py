"""Explain how a hand-derived gradient differs from the true one.

:func:`diagnose` tests, in order, the mistakes people make when deriving gradients by hand:
right values in a shape with extra or missing length-1 axes, a transposed matrix gradient, a
missing sum or mean over a batch axis (an axis longer than 1), any other shape mismatch, a sign
flipped on every element or on some of them, a constant factor (an integer, a simple fraction,
√n or 1/√n, N/(N − 1)), σ(1 − z) written for 1 − σ(z), and otherwise says which elements differ
and by how much. Each message states what was found, as a finding about the numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

KINDS = ("sign", "transpose", "scale", "batch_sum", "shape", "tape", "unknown")

# A hypothesis about a wrong formula ("it is the transpose", "it is 20 times too large") is
# accepted when it explains the formula to this relative precision.
HYPOTHESIS_TOLERANCE = 1e-6


@dataclass
class Diagnosis:
    """What is wrong: ``kind`` (one of :data:`KINDS`), a sentence, the factor (formula ÷ truth)
    for ``scale``, and the worst element's index where the shapes agree (for a partial sign
    flip, ``elements`` lists the flipped ones)."""

    kind: str
    message: str
    factor: float | None = None
    index: list[int] | None = None
    elements: list[list[int]] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "message": self.message}
        if self.factor is not None:
            data["factor"] = self.factor
        if self.elements is not None:
            data["elements"] = self.elements
        data["index"] = self.index
        return data


def relative_error(a: Any, b: Any) -> float:
    """max_j |a_j − b_j| / max(|a_j|, |b_j|), element-wise (0 where both are 0)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size == 0 and b.size == 0:
        return 0.0
    diff = np.abs(a - b)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / np.maximum(np.abs(a), np.abs(b)))
    return float(np.nan_to_num(rel, nan=np.inf).max(initial=0.0))


def explains(candidate: np.ndarray, truth: np.ndarray) -> bool:
    """True when ``candidate`` equals ``truth`` to the hypothesis precision (relative to the
    truth's own scale, so that small gradients are judged fairly)."""
    if candidate.shape != truth.shape:
        return False
    scale = max(float(np.abs(truth).max(initial=0.0)), np.finfo(np.float64).tiny)
    return float(np.abs(candidate - truth).max(initial=0.0)) <= HYPOTHESIS_TOLERANCE * scale


def name_factor(factor: float, batch: int | None = None) -> tuple[str, str]:
    """A factor as people would say it, and the usual cause: integers and simple fractions,
    N and 1/N (the batch size), N/(N − 1) and (N − 1)/N, √n and 1/√n; else its value."""
    def close(value: float) -> bool:
        return abs(factor - value) <= 1e-9 * max(1.0, abs(value))

    variance = ("1/(N − 1) where 1/N is meant, or the other way round (sample versus "
                "population variance)")
    if batch:
        if close(batch):
            return f"N = {batch} (the batch size)", ("a mean over the batch differentiated as "
                                                     "a sum: a missing 1/N")
        if close(1 / batch):
            return f"1/N = 1/{batch} (the batch size)", ("a sum over the batch differentiated "
                                                         "as a mean: an extra 1/N")
        if batch > 1 and (close(batch / (batch - 1)) or close((batch - 1) / batch)):
            return (f"N/(N − 1) = {batch}/{batch - 1}" if factor > 1 else
                    f"(N − 1)/N = {batch - 1}/{batch}"), variance
    fraction = Fraction(factor).limit_denominator(12)
    if close(float(fraction)) and fraction.numerator != 0:
        p, q = abs(fraction.numerator), fraction.denominator
        if abs(fraction) in (2, Fraction(1, 2)):
            cause = "a factor 2 from differentiating a square, or a ½ in the loss forgotten"
        elif min(p, q) >= 2 and abs(p - q) == 1:
            cause = variance
        else:
            cause = "a stray constant"
        return str(fraction), cause
    for n in range(3, 1025):
        if close(n / (n - 1)):
            return f"{n}/{n - 1} (N/(N − 1) with N = {n})", variance
        if close((n - 1) / n):
            return f"{n - 1}/{n} ((N − 1)/N with N = {n})", variance
    for n in range(2, 4097):
        root = math.sqrt(n)
        if root == int(root):
            continue
        for sign in (1, -1):
            if close(sign * root):
                return f"{'−' if sign < 0 else ''}√{n}", ("a 1/√n scaling (as 1/√d in "
                                                          "attention) missed")
            if close(sign / root):
                return f"{'−' if sign < 0 else ''}1/√{n}", ("a 1/√n scaling (as 1/√d in "
                                                            "attention) applied twice")
    shown = f"{factor:.6g}"  # (more digits when six would hide the difference from ±1)
    return (f"{factor:.12g}" if float(shown) in (1.0, -1.0) else shown), "a stray constant"


def _indices(mask: np.ndarray, limit: int = 6) -> tuple[list[list[int]], str]:
    found = [[int(i) for i in idx] for idx in np.argwhere(mask)]
    shown = ", ".join(str(tuple(i)) for i in found[:limit])
    more = f" and {len(found) - limit} more" if len(found) > limit else ""
    return found, shown + more


def _sigmoid(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-z))


def diagnose(formula: Any, truth: Any, target: str = "x", batch: int | None = None,
             claim: bool = False, tolerance: Any = None, values: Any = None) -> Diagnosis:
    """Explain how ``formula`` (the hand-derived gradient for ``target``) differs from
    ``truth`` (the tape's gradient, which has ``target``'s shape). ``batch`` is the number of
    examples, to name factors of N and 1/N. With ``claim``, the two are the sides of the claim
    labelled ``target``. ``tolerance`` (per element) is what counts as a difference;
    ``values`` are the target's own values (to recognise σ(1 − z) for 1 − σ(z))."""
    F = np.asarray(formula, dtype=np.float64)
    T = np.asarray(truth, dtype=np.float64)
    what = f"the claim '{target}' does not hold:" if claim else f"∂J/∂{target}:"
    ratio_name = "lhs ÷ rhs" if claim else "formula ÷ tape"
    if F.shape != T.shape:
        return _diagnose_shape(F, T, target, what)
    broken = ~np.isfinite(F) & np.isfinite(T)
    if broken.any():
        elements, shown = _indices(broken)
        kinds = sorted({"NaN" if np.isnan(v) else "infinite" for v in F[broken].ravel()})
        return Diagnosis("unknown", f"{what} the {'lhs' if claim else 'formula'} is "
                         f"{' or '.join(kinds)} at {len(elements)} of {F.size} elements "
                         f"({shown}) where the {'rhs' if claim else 'tape'} is finite (a "
                         "division by zero, a log of 0 or of a negative number, an overflow?).",
                         index=elements[0], elements=elements[:100])
    if F.ndim == 2 and F.shape[0] == F.shape[1] > 1 and explains(F.T, T) and \
            not explains(F, T):
        return Diagnosis("transpose", f"{what} the formula equals the transpose of the gradient "
                         "(e.g. δᵀh where hᵀδ is meant).", index=_worst(F, T))
    norm_t = float(np.sum(T * T))
    if norm_t > 0:
        factor = float(np.sum(F * T)) / norm_t
        if factor != 0 and explains(F, factor * T):
            if abs(factor + 1) <= 1e-9:
                return Diagnosis("sign", f"{what} wrong sign: the formula is the negative of the "
                                 f"{'rhs' if claim else 'gradient'} at every element (e.g. "
                                 "y − ŷ where ŷ − y is meant).", index=_worst(F, T))
            if abs(factor - 1) > 1e-9:
                named, cause = name_factor(factor, batch)
                return Diagnosis(
                    "scale", f"{what} off by a constant factor: {ratio_name} = {named} at every "
                    f"element. A usual cause: {cause}.", factor=factor, index=_worst(F, T))
    tol = (np.asarray(tolerance, np.float64) if tolerance is not None
           else 1e-9 * np.maximum(np.abs(F), np.abs(T)))
    differs = ~(np.abs(F - T) <= tol)
    flipped = differs & (np.abs(F + T) <= np.maximum(tol, 1e-9 * np.abs(T))) & (T != 0)
    if flipped.any() and not (differs & ~flipped).any():
        elements, shown = _indices(flipped)
        return Diagnosis("sign", f"{what} wrong sign at {len(elements)} of {F.size} "
                         f"elements: {shown}; the others are right.", index=elements[0],
                         elements=elements)
    index = _worst(F, T)
    hint = ""
    if values is not None and np.shape(values) == F.shape and not claim:
        z = np.asarray(values, np.float64)
        s = _sigmoid(z)
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = F / T
            confused = _sigmoid(1 - z) / (1 - s)
        ok = np.isfinite(expected) & np.isfinite(confused) & (T != 0)
        if ok.any() and differs[ok].any() and np.allclose(expected[ok], confused[ok],
                                                          rtol=1e-6, atol=0):
            hint = (" Each wrong element is off by the factor σ(1 − z)/(1 − σ(z)): σ(1 − z) "
                    "appears where 1 − σ(z) is meant.")
    elements, shown = _indices(differs)
    where = tuple(index)
    rel = relative_error(F[where], T[where])
    return Diagnosis(
        "unknown", f"{what} no single pattern (shape, transpose, batch sum, sign, factor) "
        f"explains the difference. It differs at {len(elements)} of {F.size} elements "
        f"({shown}); the largest difference is at {where}: {'lhs' if claim else 'formula'} "
        f"{F[where]:.10g}, {'rhs' if claim else 'tape'} {T[where]:.10g} (relative "
        f"difference {rel:.3g}).{hint}", index=index, elements=elements[:100])


def _worst(F: np.ndarray, T: np.ndarray) -> list[int]:
    if F.ndim == 0:
        return []
    diff = np.nan_to_num(np.abs(F - T), nan=np.inf)
    return [int(i) for i in np.unravel_index(int(np.argmax(diff)), F.shape)]


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(n for n in shape if n != 1)


def _diagnose_shape(F: np.ndarray, T: np.ndarray, target: str, what: str) -> Diagnosis:
    if F.size == 0 or T.size == 0:
        return Diagnosis("shape", f"{what} the formula has shape {F.shape} but a gradient has "
                         f"the shape of its variable, {T.shape}.")
    if F.ndim == 2 and F.shape == T.shape[::-1]:
        if explains(F.T, T):
            return Diagnosis(
                "transpose", f"{what} the formula has shape {F.shape} but {target} has shape "
                f"{T.shape}, and its transpose is the right gradient. In the row-vector "
                "convention ∂J/∂W = hᵀδ (the input's transpose on the left).")
        return Diagnosis(
            "shape", f"{what} the formula has shape {F.shape}, the transpose of {target}'s "
            f"shape {T.shape}: that is the numerator-layout (Jacobian) convention; here a "
            "gradient has the shape of its variable (denominator layout). Its values differ "
            "as well.")
    if F.size == T.size and _squeezed(F.shape) == _squeezed(T.shape):
        same = explains(F.reshape(T.shape), T)
        kind_of = ("a column" if F.ndim == 2 and F.shape[1] == 1 and T.ndim == 1 else
                   "a row" if F.ndim == 2 and F.shape[0] == 1 and T.ndim == 1 else
                   "an array" if T.ndim == 0 else "a shape")
        meant = "a scalar" if T.ndim == 0 else f"shape {T.shape}"
        values = ("the values are right; reshape them" if same else
                  "and the values differ as well")
        return Diagnosis("shape", f"{what} the formula has shape {F.shape} ({kind_of} with "
                         f"length-1 axes) where {meant} is meant, the shape of {target}: "
                         f"{values}.")
    for axis in range(F.ndim):
        if F.shape[axis] == 1:  # a length-1 axis is not a batch
            continue
        kept = F.shape[:axis] + F.shape[axis + 1:]
        if kept != T.shape and F.shape[:axis] + (1,) + F.shape[axis + 1:] != T.shape:
            continue
        for how, reduced in (("sum", F.sum(axis=axis)), ("mean", F.mean(axis=axis))):
            if explains(reduced.reshape(T.shape), T):
                return Diagnosis(
                    "batch_sum", f"{what} missing a {how} over axis {axis}: the formula has "
                    f"one row per example (shape {F.shape}) and its {how} over that axis is the "
                    f"gradient (shape {T.shape}). A parameter shared by all examples, like a "
                    f"bias, gets the {how} of their gradients.")
    if F.size == T.size and explains(F.reshape(T.shape), T):
        return Diagnosis("shape", f"{what} the formula has the right values in the wrong "
                         f"shape: {F.shape} instead of {T.shape} (reshape it to the "
                         "variable's shape).")
    return Diagnosis(
        "shape", f"{what} the formula has shape {F.shape} but a gradient has the shape of its "
        f"variable, {T.shape}.")
