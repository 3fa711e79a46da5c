"""Softmax: its gradient through a weighted read-out, and its invariance to a constant shift (D1).

Row-vector convention; see softmax.md for the derivation.
"""

import numpy as np

import autograd_lite as al
from autograd_lite.verify import Derivation


def softmax(x: np.ndarray) -> np.ndarray:
    """The definition, e^x / Σ e^x, exactly as written (no shift)."""
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def stable_softmax(x: np.ndarray) -> np.ndarray:
    """The stable form: subtract max_i x_i first."""
    return softmax(x - x.max(axis=-1, keepdims=True))


def inputs(rng: np.random.Generator) -> dict:
    return {"x": rng.standard_normal((1, 6)), "w": rng.standard_normal((1, 6)),
            "c": np.array(3.7), "rows": rng.standard_normal((4, 5))}


def loss(x, w, c):
    """J = softmax(x + c) wᵀ: a scalar read-out of the probabilities."""
    p = al.softmax(x + c)
    p.name = "p"
    return (p * w).sum()


SOFTMAX = Derivation(
    name="softmax: gradient and shift invariance",
    inputs=inputs,
    loss=loss,
    gradients={
        # ∂J/∂x = p ∘ (w − p wᵀ), the row form of (diag(p) − pᵀp) wᵀ
        "x": lambda x, w: stable_softmax(x) * (w - (stable_softmax(x) * w).sum()),
        # the shift c changes nothing, so ∂J/∂c = 0
        "c": lambda c: np.zeros_like(c),
    },
    steps={"p": lambda w: w},
    claims={
        "softmax(x + c) = softmax(x)": lambda x, c: (softmax(x + c), softmax(x)),
        "softmax(rows + c_row) = softmax(rows), one shift per row":
            lambda rows: (softmax(rows + np.arange(4.0)[:, None] * 10), softmax(rows)),
        "stable form (shift by max) = definition": lambda x: (stable_softmax(x), softmax(x)),
    },
    source="softmax.md",
)
