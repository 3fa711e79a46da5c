"""The Hessian of softmax + cross-entropy, ∇²_θ J = diag(p) − pᵀp for one row (D3, second
order), block-diagonal for a batch (one C × C block per row, divided by N for the mean). See
softmax_cross_entropy_hessian.md.

Each Hessian is checked three ways: the formula, the tape's Hessian (forward-over-reverse) and
central differences of the tape's gradient. For a larger batch only the Hessian-vector product
(H V)_n = P_n ∘ V_n − P_n (P_n V_nᵀ) is checked, along a direction V the verifier draws.
"""

import numpy as np

import autograd_lite as al
from autograd_lite.verify import Derivation


def softmax(theta: np.ndarray) -> np.ndarray:
    e = np.exp(theta - theta.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def hessian(theta: np.ndarray) -> np.ndarray:
    """∂²J/∂Θ_nk ∂Θ_ml = δ_nm (δ_kl P_nk − P_nk P_nl), an N × C × N × C array (summed loss)."""
    P = softmax(theta)
    N, C = P.shape
    blocks = np.einsum("nk,kl->nkl", P, np.eye(C)) - np.einsum("nk,nl->nkl", P, P)
    H = np.zeros((N, C, N, C))
    H[np.arange(N), :, np.arange(N), :] = blocks  # row n's block at [n, :, n, :]
    return H


def hvp(theta: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(H V)_n = P_n ∘ V_n − P_n (P_n V_nᵀ), row by row, without forming H (summed loss)."""
    P = softmax(theta)
    return P * v - P * (P * v).sum(axis=-1, keepdims=True)


def one_row(rng: np.random.Generator) -> dict:
    return {"theta": rng.standard_normal((1, 5)), "y": np.eye(5)[[2]]}


def small_batch(rng: np.random.Generator) -> dict:
    return {"theta": rng.standard_normal((4, 3)) * 2, "y": np.eye(3)[rng.integers(0, 3, 4)]}


def large_batch(rng: np.random.Generator) -> dict:
    return {"theta": rng.standard_normal((64, 10)) * 2,
            "y": np.eye(10)[rng.integers(0, 10, 64)]}


def summed(theta, y):
    """J = Σ_n CE(y_n, softmax(θ_n)) = −Σ y ∘ log softmax(θ)."""
    return -(y * al.log_softmax(theta)).sum()


def averaged(theta, y):
    """J = (1/N) Σ_n CE(y_n, softmax(θ_n))."""
    return -(y * al.log_softmax(theta)).sum() / theta.shape[0]


SOFTMAX_CE_HESSIAN = Derivation(
    name="softmax cross-entropy Hessian: one row",
    inputs=one_row,
    loss=summed,
    gradients={"theta": lambda theta, y: softmax(theta) - y},
    hessians={"theta": lambda theta: hessian(theta)},
    hvps={"theta": lambda theta, v: hvp(theta, v)},
    claims={
        "diag(p) − pᵀp = Hessian of log Σ exp θ": lambda theta: (
            np.diag(softmax(theta)[0]) - softmax(theta).T @ softmax(theta),
            al.func.hessian(lambda t: al.log(al.exp(t).sum()))(theta[0])),
        "the Hessian does not depend on y": lambda theta: (
            al.func.hessian(lambda t: summed(t, al.Tensor(np.eye(5)[[0]])))(theta),
            al.func.hessian(lambda t: summed(t, al.Tensor(np.full((1, 5), 0.2))))(theta)),
        "(diag(p) − pᵀp) 1ᵀ = 0 (shift invariance)": lambda theta: (
            (np.diag(softmax(theta)[0]) - softmax(theta).T @ softmax(theta)) @ np.ones(5),
            np.zeros(5)),
    },
    source="softmax_cross_entropy_hessian.md",
)

SOFTMAX_CE_HESSIAN_BATCH = Derivation(
    name="softmax cross-entropy Hessian: a batch, summed",
    inputs=small_batch,
    loss=summed,
    hessians={"theta": lambda theta: hessian(theta)},
    hvps={"theta": lambda theta, v: hvp(theta, v)},
    batch=4,
    source="softmax_cross_entropy_hessian.md",
)

SOFTMAX_CE_HESSIAN_MEAN = Derivation(
    name="softmax cross-entropy Hessian: a batch, averaged",
    inputs=small_batch,
    loss=averaged,
    hessians={"theta": lambda theta: hessian(theta) / theta.shape[0]},
    hvps={"theta": lambda theta, v: hvp(theta, v) / theta.shape[0]},
    batch=4,
    source="softmax_cross_entropy_hessian.md",
)

SOFTMAX_CE_HVP_LARGE = Derivation(
    name="softmax cross-entropy Hessian-vector product: 64 rows of 10, averaged",
    inputs=large_batch,
    loss=averaged,
    hvps={"theta": lambda theta, v: hvp(theta, v) / theta.shape[0]},
    batch=64,
    source="softmax_cross_entropy_hessian.md",
)
