"""word2vec's naive-softmax loss for one (centre, outside) pair (D7). See word2vec_naive_softmax.md.

v_c ∈ R^d is the centre word's vector, the rows of U ∈ R^{V×d} are the outside vectors,
ŷ = softmax(U v_c) and J = −log ŷ_o.
"""

import numpy as np

import autograd_lite as al
from autograd_lite.verify import Derivation

V, D = 9, 4


def softmax(theta):
    e = np.exp(theta - theta.max())
    return e / e.sum()


def inputs(rng: np.random.Generator) -> dict:
    return {"v_c": rng.standard_normal(D), "U": rng.standard_normal((V, D)), "o": np.array(6)}


def naive_softmax_loss(v_c, U, o):
    """J = −log softmax(U v_c)_o."""
    theta = U @ v_c
    theta.name = "theta"
    return -al.log_softmax(theta)[o]


def error(v_c, U, o):
    """ŷ − y, with y the one-hot vector of o."""
    return softmax(U @ v_c) - np.eye(V)[o]


NAIVE_SOFTMAX = Derivation(
    name="word2vec naive softmax",
    inputs=inputs,
    loss=naive_softmax_loss,
    gradients={
        "v_c": lambda v_c, U, o: U.T @ error(v_c, U, o),
        "U": lambda v_c, U, o: np.outer(error(v_c, U, o), v_c),
    },
    steps={"theta": error},
    source="word2vec_naive_softmax.md",
)
