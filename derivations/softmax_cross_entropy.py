"""Softmax + cross-entropy: ∂CE/∂θ = ŷ − y for a one-hot y (D3). See softmax_cross_entropy.md.

The loss is written in plain NumPy, the language of the formulas: on Tensors each np.* call is
recorded on the tape (NumPy's dispatch), so the tape derives ŷ − y on its own; the fused op
autograd_lite.softmax_cross_entropy is checked against it as a claim.
"""

import numpy as np

import autograd_lite as al
from autograd_lite.verify import Derivation


def softmax(theta: np.ndarray) -> np.ndarray:
    e = np.exp(theta - theta.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def one_example(rng: np.random.Generator) -> dict:
    return {"theta": rng.standard_normal((1, 7)), "y": np.eye(7)[[3]]}


def batch(rng: np.random.Generator) -> dict:
    labels = rng.integers(0, 5, size=8)
    return {"theta": rng.standard_normal((8, 5)) * 3, "y": np.eye(5)[labels], "labels": labels}


def cross_entropy(theta, y):
    """CE(y, ŷ) = −Σ_i y_i log ŷ_i with ŷ = softmax(θ), summed over rows; log ŷ is computed as
    (θ − max θ) − log Σ e^(θ − max θ), which cannot overflow."""
    shifted = theta - np.max(theta, axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
    return -np.sum(y * log_probs)


SOFTMAX_CE = Derivation(
    name="softmax cross-entropy: one example",
    inputs=one_example,
    loss=cross_entropy,
    gradients={"theta": lambda theta, y: softmax(theta) - y},
    source="softmax_cross_entropy.md",
)

SOFTMAX_CE_BATCH = Derivation(
    name="softmax cross-entropy: a batch, summed",
    inputs=batch,
    loss=cross_entropy,
    gradients={"theta": lambda theta, y: softmax(theta) - y},
    claims={
        "fused softmax_cross_entropy = −Σ y log softmax(θ)": lambda theta, y, labels: (
            al.softmax_cross_entropy(al.Tensor(theta), labels, reduction="sum").data,
            -(y * np.log(softmax(theta))).sum()),
    },
    batch=8,
    source="softmax_cross_entropy.md",
)
