"""A derivation with a flipped sign: y − ŷ instead of ŷ − y (kept out of derivations/)."""

import numpy as np

import autograd_lite as al
from autograd_lite.verify import Derivation


def softmax(t):
    e = np.exp(t - t.max())
    return e / e.sum()


WRONG_SIGN = Derivation(
    name="cross-entropy with the sign flipped",
    inputs={"theta": np.array([[0.5, -1.0, 2.0]]), "y": np.array([[0.0, 1.0, 0.0]])},
    loss=lambda theta, y: -(y * al.log_softmax(theta)).sum(),
    gradients={"theta": lambda theta, y: y - softmax(theta)},
)
