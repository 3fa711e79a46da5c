"""The one-hidden-layer network of CS224N (D4, D5, D6). See neural_network.md.

Row-vector convention: z1 = x W1 + b1, h = σ(z1), θ = h W2 + b2, ŷ = softmax(θ),
J = CE(y, ŷ) = −Σ y log ŷ. Dimensions (Dx, H, Dy) = (10, 5, 10) as in the course.
"""

import numpy as np

import autograd_lite as al
from autograd_lite.verify import Derivation

DX, H, DY, N = 10, 5, 10, 20


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def softmax(theta):
    e = np.exp(theta - theta.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def deltas(x, W1, b1, W2, b2, y):
    """The closed-form chain: δ3 = ŷ − y at θ, then δ2 = (δ3 W2ᵀ) ∘ σ'(z1) at z1."""
    z1 = x @ W1 + b1
    h = sigmoid(z1)
    delta3 = softmax(h @ W2 + b2) - y
    delta2 = (delta3 @ W2.T) * h * (1 - h)
    return h, delta3, delta2


def network(x, W1, b1, W2, b2, y):
    """J = −Σ y log softmax(σ(x W1 + b1) W2 + b2), summed over rows; names each stage."""
    z1 = x @ W1 + b1
    z1.name = "z1"
    h = al.sigmoid(z1)
    h.name = "h"
    theta = h @ W2 + b2
    theta.name = "theta"
    return -(y * al.log_softmax(theta)).sum()


def single(rng: np.random.Generator) -> dict:
    return {"x": rng.standard_normal((1, DX)), "W1": rng.standard_normal((DX, H)),
            "b1": rng.standard_normal((1, H)), "W2": rng.standard_normal((H, DY)),
            "b2": rng.standard_normal((1, DY)), "y": np.eye(DY)[[4]]}


def batch(rng: np.random.Generator) -> dict:
    return {"x": rng.standard_normal((N, DX)), "W1": rng.standard_normal((DX, H)),
            "b1": rng.standard_normal(H), "W2": rng.standard_normal((H, DY)),
            "b2": rng.standard_normal(DY), "y": np.eye(DY)[rng.integers(0, DY, N)]}


SINGLE_EXAMPLE = Derivation(
    name="one-hidden-layer net: one example, ∂J/∂x through δ3 and δ2",
    inputs=single,
    loss=network,
    gradients={
        "x": lambda **a: deltas(**a)[2] @ a["W1"].T,
        "W1": lambda **a: a["x"].T @ deltas(**a)[2],
        "b1": lambda **a: deltas(**a)[2],
        "W2": lambda **a: deltas(**a)[0].T @ deltas(**a)[1],
        "b2": lambda **a: deltas(**a)[1],
    },
    steps={
        "theta": lambda **a: deltas(**a)[1],
        "h": lambda **a: deltas(**a)[1] @ a["W2"].T,
        "z1": lambda **a: deltas(**a)[2],
    },
    source="neural_network.md",
)

BATCH_SUM = Derivation(
    name="one-hidden-layer net: a batch of 20, summed loss",
    inputs=batch,
    loss=network,
    gradients={
        "W1": lambda **a: a["x"].T @ deltas(**a)[2],
        "b1": lambda **a: deltas(**a)[2].sum(axis=0),
        "W2": lambda **a: deltas(**a)[0].T @ deltas(**a)[1],
        "b2": lambda **a: deltas(**a)[1].sum(axis=0),
        "x": lambda **a: deltas(**a)[2] @ a["W1"].T,
    },
    steps={"theta": lambda **a: deltas(**a)[1], "z1": lambda **a: deltas(**a)[2]},
    claims={
        "parameter count = (Dx + 1)·H + (H + 1)·Dy = 115":
            lambda W1, b1, W2, b2: (W1.size + b1.size + W2.size + b2.size,
                                    (DX + 1) * H + (H + 1) * DY),
    },
    batch=N,
    source="neural_network.md",
)


def mean_network(**a):
    """The mean over the batch: every gradient of the summed loss divided by N."""
    return network(**a) / N


BATCH_MEAN = Derivation(
    name="one-hidden-layer net: a batch of 20, mean loss",
    inputs=batch,
    loss=mean_network,
    gradients={
        "W1": lambda **a: a["x"].T @ deltas(**a)[2] / N,
        "b1": lambda **a: deltas(**a)[2].sum(axis=0) / N,
        "W2": lambda **a: deltas(**a)[0].T @ deltas(**a)[1] / N,
        "b2": lambda **a: deltas(**a)[1].sum(axis=0) / N,
    },
    batch=N,
    source="neural_network.md",
)


# The course's own gradient check: the 115 parameters packed flat in the order W1, b1, W2, b2.
SHAPES = {"W1": (DX, H), "b1": (H,), "W2": (H, DY), "b2": (DY,)}


def unpack(params):
    """Slice a flat vector (array or Tensor) into W1, b1, W2, b2."""
    parts, start = {}, 0
    for name, shape in SHAPES.items():
        size = int(np.prod(shape))
        parts[name] = params[start:start + size].reshape(shape)
        start += size
    return parts


def packed(rng: np.random.Generator) -> dict:
    return {"params": rng.standard_normal((DX + 1) * H + (H + 1) * DY),
            "x": rng.standard_normal((N, DX)), "y": np.eye(DY)[rng.integers(0, DY, N)]}


def packed_gradient(params, x, y):
    a = {**unpack(params), "x": x, "y": y}
    h, delta3, delta2 = deltas(**a)
    return np.concatenate([(x.T @ delta2).ravel(), delta2.sum(axis=0),
                           (h.T @ delta3).ravel(), delta3.sum(axis=0)])


CS224N_PACKED = Derivation(
    name="one-hidden-layer net: CS224N reference setting, 115 parameters packed flat",
    inputs=packed,
    loss=lambda params, x, y: network(x=x, y=y, **unpack(params)),
    gradients={"params": packed_gradient},
    batch=N,
    source="neural_network.md",
)
