import numpy as np

import autograd_lite as al
from autograd_lite.verify import Derivation


def softmax(t):
    e = np.exp(t - t.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def loss(X, W, b, y):  # J = Σ_rows CE(y, softmax(X W + b))
    theta = X @ W + b
    theta.name = "theta"
    return -(y * al.log_softmax(theta)).sum()


MINE = Derivation(
    name="softmax regression",
    inputs=lambda rng: {"X": rng.standard_normal((8, 3)), "W": rng.standard_normal((3, 4)),
                        "b": rng.standard_normal(4), "y": np.eye(4)[rng.integers(0, 4, 8)]},
    loss=loss,
    steps={"theta": lambda X, W, b, y: softmax(X @ W + b) - y},
    gradients={"W": lambda X, W, b, y: X.T @ (softmax(X @ W + b) - y),
               "b": lambda X, W, b, y: softmax(X @ W + b) - y},  # forgot to sum over rows
    source="my_derivation.md",
)
