"""The sigmoid gradient σ'(z) = σ(z)(1 − σ(z)) (D2). See sigmoid.md."""

import numpy as np

import autograd_lite as al
from autograd_lite.verify import Derivation


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def inputs(rng: np.random.Generator) -> dict:
    return {"z": rng.standard_normal((3, 4)) * 2, "u": rng.standard_normal((3, 4))}


def loss(z, u):
    """J = Σ_ij u_ij σ(z_ij): any scalar of σ(z), weighted so every element matters."""
    s = al.sigmoid(z)
    s.name = "s"
    return (u * s).sum()


SIGMOID = Derivation(
    name="sigmoid gradient",
    inputs=inputs,
    loss=loss,
    gradients={"z": lambda z, u: u * sigmoid(z) * (1 - sigmoid(z))},
    steps={"s": lambda u: u},
    claims={
        "σ'(z) = σ(z) σ(−z)": lambda z: (sigmoid(z) * (1 - sigmoid(z)), sigmoid(z) * sigmoid(-z)),
        "σ(−z) = 1 − σ(z)": lambda z: (sigmoid(-z), 1 - sigmoid(z)),
    },
    source="sigmoid.md",
)
