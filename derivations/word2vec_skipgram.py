"""Skip-gram over a window (D9). See word2vec_skipgram.md.

J = Σ_j J(v_c, o = w_j, U) over the outside words w_1..w_m of a window (repeats count), with
the naive-softmax loss and with the negative-sampling loss. Input vectors are the rows of
V_in ∈ R^{V×d} (v_c = V_in[c]), outside vectors the rows of U ∈ R^{V×d}.
"""

import numpy as np

import autograd_lite as al
from autograd_lite.verify import Derivation

V, D, K = 7, 3, 4


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def softmax(theta):
    e = np.exp(theta - theta.max())
    return e / e.sum()


def inputs(rng: np.random.Generator) -> dict:
    return {"V_in": rng.standard_normal((V, D)), "U": rng.standard_normal((V, D)),
            "c": np.array(3), "window": np.array([1, 5, 1, 0])}  # word 1 occurs twice


# ---- naive softmax: per outside word, ∂J/∂v_c = Uᵀ(ŷ − y_o) and ∂J/∂U = (ŷ − y_o) v_cᵀ
def skipgram_naive_loss(V_in, U, c, window):
    v_c = V_in[c]
    log_probs = al.log_softmax(U @ v_c)
    return -sum(log_probs[int(o)] for o in window.data)


def naive_errors(V_in, U, c, window):
    """Rows ŷ − y_{w_j}, one per outside word."""
    return softmax(U @ V_in[c])[None, :] - np.eye(V)[window]


def naive_grad_V_in(V_in, U, c, window):
    grad = np.zeros_like(V_in)
    grad[c] = (naive_errors(V_in, U, c, window) @ U).sum(axis=0)  # Σ_j Uᵀ(ŷ − y_j)
    return grad


SKIPGRAM_NAIVE = Derivation(
    name="skip-gram, naive softmax, window of 4 with a repeat",
    inputs=inputs,
    loss=skipgram_naive_loss,
    gradients={
        "V_in": naive_grad_V_in,
        "U": lambda V_in, U, c, window: np.outer(naive_errors(V_in, U, c, window).sum(axis=0),
                                                 V_in[c]),
    },
    source="word2vec_skipgram.md",
)


# ---- negative sampling: K fresh samples per outside word, drawn in window order
def samples_for(rng, o):
    samples = []
    while len(samples) < K:
        k = int(rng.integers(0, V))
        if k != o:
            samples.append(k)
    return np.array(samples)


def skipgram_neg_loss(V_in, U, c, window, rng):
    v_c = V_in[c]
    total = 0.0
    for o in window.data:
        k = samples_for(rng, int(o))
        total = total - al.log(al.sigmoid(U[int(o)] @ v_c)) \
            - al.log(al.sigmoid(-(U[k] @ v_c))).sum()
    return total


def skipgram_neg_grads(V_in, U, c, window, rng):
    v_c = V_in[c]
    g_v, g_U = np.zeros(D), np.zeros_like(U)
    for o in window:
        k = samples_for(rng, int(o))
        g_v += (sigmoid(U[o] @ v_c) - 1) * U[o] + sigmoid(U[k] @ v_c) @ U[k]
        g_U[o] += (sigmoid(U[o] @ v_c) - 1) * v_c
        np.add.at(g_U, k, np.outer(sigmoid(U[k] @ v_c), v_c))
    g_V_in = np.zeros_like(V_in)
    g_V_in[c] = g_v
    return g_V_in, g_U


SKIPGRAM_NEGATIVE = Derivation(
    name="skip-gram, negative sampling, window of 4 with a repeat",
    inputs=inputs,
    loss=skipgram_neg_loss,
    gradients={
        "V_in": lambda V_in, U, c, window, rng: skipgram_neg_grads(V_in, U, c, window, rng)[0],
        "U": lambda V_in, U, c, window, rng: skipgram_neg_grads(V_in, U, c, window, rng)[1],
    },
    source="word2vec_skipgram.md",
)
