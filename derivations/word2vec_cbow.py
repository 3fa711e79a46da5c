"""CBOW (D10). See word2vec_cbow.md.

v̂ = Σ_j V_in[w_j] over the context words (repeats count), then one naive-softmax loss
J = −log softmax(U v̂)_c that predicts the centre word c. Each context row of V_in gets
∂J/∂v̂ = Uᵀ(ŷ − y_c), once per occurrence.
"""

import numpy as np

import autograd_lite as al
from autograd_lite.verify import Derivation

V, D = 8, 3


def softmax(theta):
    e = np.exp(theta - theta.max())
    return e / e.sum()


def inputs(rng: np.random.Generator) -> dict:
    return {"V_in": rng.standard_normal((V, D)), "U": rng.standard_normal((V, D)),
            "c": np.array(4), "context": np.array([2, 6, 2, 7])}  # word 2 occurs twice


def cbow_loss(V_in, U, c, context):
    v_hat = V_in[context].sum(axis=0)
    v_hat.name = "v_hat"
    return -al.log_softmax(U @ v_hat)[c]


def v_hat(V_in, context):
    return V_in[context].sum(axis=0)


def error(V_in, U, c, context):
    return softmax(U @ v_hat(V_in, context)) - np.eye(V)[c]


def grad_V_in(V_in, U, c, context):
    grad = np.zeros_like(V_in)
    np.add.at(grad, context, U.T @ error(V_in, U, c, context))  # once per occurrence
    return grad


CBOW = Derivation(
    name="CBOW, naive softmax, context of 4 with a repeat",
    inputs=inputs,
    loss=cbow_loss,
    gradients={
        "V_in": grad_V_in,
        "U": lambda V_in, U, c, context: np.outer(error(V_in, U, c, context),
                                                  v_hat(V_in, context)),
    },
    steps={"v_hat": lambda V_in, U, c, context: U.T @ error(V_in, U, c, context)},
    source="word2vec_cbow.md",
)
