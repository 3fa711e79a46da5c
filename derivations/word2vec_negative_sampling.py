"""word2vec's negative-sampling loss (D8). See word2vec_negative_sampling.md.

J = −log σ(u_oᵀ v_c) − Σ_{k=1..K} log σ(−u_kᵀ v_c), with K words sampled (repeats allowed, the
outside word o never) afresh by the loss. The verifier hands the loss and the formulas the same
random generator state at every evaluation, so they all see the same samples.
"""

import numpy as np

import autograd_lite as al
from autograd_lite.verify import Derivation

V, D, K = 6, 4, 10  # K > V − 1, so some words must be sampled more than once


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def negative_samples(rng: np.random.Generator, o: int) -> np.ndarray:
    """K word indices drawn uniformly, skipping o (as the course's getNegativeSamples does)."""
    samples = []
    while len(samples) < K:
        k = int(rng.integers(0, V))
        if k != o:
            samples.append(k)
    return np.array(samples)


def inputs(rng: np.random.Generator) -> dict:
    return {"v_c": rng.standard_normal(D), "U": rng.standard_normal((V, D)), "o": np.array(2)}


def negative_sampling_loss(v_c, U, o, rng):
    k = negative_samples(rng, int(o.item()))
    positive = al.log(al.sigmoid(U[o] @ v_c))
    negative = al.log(al.sigmoid(-(U[k] @ v_c))).sum()
    return -positive - negative


def grad_v_c(v_c, U, o, rng):
    k = negative_samples(rng, int(o))
    return (sigmoid(U[o] @ v_c) - 1) * U[o] + sigmoid(U[k] @ v_c) @ U[k]


def grad_U(v_c, U, o, rng):
    k = negative_samples(rng, int(o))
    grad = np.zeros_like(U)
    grad[o] += (sigmoid(U[o] @ v_c) - 1) * v_c
    np.add.at(grad, k, np.outer(sigmoid(U[k] @ v_c), v_c))  # each occurrence of k counts
    return grad


NEGATIVE_SAMPLING = Derivation(
    name="word2vec negative sampling (repeated samples)",
    inputs=inputs,
    loss=negative_sampling_loss,
    gradients={"v_c": grad_v_c, "U": grad_U},
    claims={
        "some negative sample repeats": lambda o, rng: (
            float(len(set(negative_samples(rng, int(o)).tolist())) < K), 1.0),
    },
    source="word2vec_negative_sampling.md",
)
