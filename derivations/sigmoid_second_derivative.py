"""The sigmoid's second derivative σ'' = σ(1 − σ)(1 − 2σ) (D2, second order), as the Hessian
of J = Σ u ∘ σ(z): diagonal, with u ∘ σ''(z) on the diagonal. See sigmoid_second_derivative.md.

Each Hessian is checked three ways: the formula, the tape's Hessian (forward-over-reverse) and
central differences of the tape's gradient; the Hessian-vector products likewise along a
direction v the verifier draws.
"""

import numpy as np

import autograd_lite as al
from autograd_lite.verify import Derivation


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_second(z: np.ndarray) -> np.ndarray:
    """σ''(z) = σ(z)(1 − σ(z))(1 − 2σ(z)), element-wise."""
    s = sigmoid(z)
    return s * (1 - s) * (1 - 2 * s)


def diagonal_hessian(d: np.ndarray) -> np.ndarray:
    """The Hessian of a sum of element-wise terms: d on the diagonal, of shape d.shape twice."""
    return np.diag(d.reshape(-1)).reshape(d.shape + d.shape)


def vector(rng: np.random.Generator) -> dict:
    return {"z": rng.standard_normal(6) * 2, "u": rng.standard_normal(6)}


def matrix(rng: np.random.Generator) -> dict:
    return {"z": rng.standard_normal((3, 4)) * 2, "u": rng.standard_normal((3, 4))}


def weighted_sum(z, u):
    """J = Σ_i u_i σ(z_i)."""
    return (u * al.sigmoid(z)).sum()


def weighted_mean(z, u):
    """J = (1/N) Σ_ij u_ij σ(z_ij) over the N = 12 elements of a 3 × 4 matrix."""
    return (u * al.sigmoid(z)).mean()


SIGMOID_SECOND = Derivation(
    name="sigmoid second derivative: Hessian of Σ u σ(z)",
    inputs=vector,
    loss=weighted_sum,
    gradients={"z": lambda z, u: u * sigmoid(z) * (1 - sigmoid(z))},
    hessians={"z": lambda z, u: diagonal_hessian(u * sigmoid_second(z))},
    hvps={"z": lambda z, u, v: u * sigmoid_second(z) * v},
    claims={
        "σ''(0) = 0 (the inflection point)": lambda: (sigmoid_second(np.zeros(1)), np.zeros(1)),
        "σ''(−z) = −σ''(z)": lambda z: (sigmoid_second(-z), -sigmoid_second(z)),
        "σ'' = σ' − 2σσ'": lambda z: (
            sigmoid_second(z),
            sigmoid(z) * (1 - sigmoid(z)) - 2 * sigmoid(z) * sigmoid(z) * (1 - sigmoid(z))),
    },
    source="sigmoid_second_derivative.md",
)

SIGMOID_SECOND_MATRIX = Derivation(
    name="sigmoid second derivative: Hessian of a mean over a 3 × 4 matrix",
    inputs=matrix,
    loss=weighted_mean,
    hessians={"z": lambda z, u: diagonal_hessian(u * sigmoid_second(z) / z.size)},
    hvps={"z": lambda z, u, v: u * sigmoid_second(z) * v / z.size},
    batch=12,
    source="sigmoid_second_derivative.md",
)
