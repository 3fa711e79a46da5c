"""The second-order derivations (derivations/sigmoid_second_derivative.md and
derivations/softmax_cross_entropy_hessian.md): each closed form against the tape's Hessian
(al.func.hessian, nested grads, hvp) and against finite differences of the gradient."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import fd_gradient

import autograd_lite as al
from autograd_lite import func as F

rng = np.random.default_rng(5)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_second(z: np.ndarray) -> np.ndarray:
    """σ'' = σ(1 − σ)(1 − 2σ) (the derivation's result)."""
    s = sigmoid(z)
    return s * (1 - s) * (1 - 2 * s)


def softmax_rows(theta: np.ndarray) -> np.ndarray:
    e = np.exp(theta - theta.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def fd_hessian(loss, x: np.ndarray) -> np.ndarray:
    """Central differences of the tape's gradient, one gradient element at a time."""
    gradient = F.grad(loss)
    return np.stack([fd_gradient(lambda x, j=j: float(gradient(x).reshape(-1)[j]), [x], 0)
                     for j in range(x.size)]).reshape(x.shape + x.shape)


# ---------------------------------------------------------------------------------- sigmoid
def test_sigmoid_second_derivative_elementwise() -> None:
    z = np.linspace(-6, 6, 25)
    expected = sigmoid_second(z)
    for i, zi in enumerate(z):
        np.testing.assert_allclose(F.grad(F.grad(al.sigmoid))(zi), expected[i], atol=1e-15)
        np.testing.assert_allclose(F.jacfwd(F.jacrev(al.sigmoid))(zi), expected[i], atol=1e-15)
    first = F.grad(al.sigmoid)
    numeric = [fd_gradient(lambda x: float(first(x)), [np.array(zi)], 0) for zi in z]
    np.testing.assert_allclose(np.array(numeric), expected, atol=1e-9)


def test_sigmoid_hessian_of_a_weighted_sum_is_diagonal() -> None:
    z, u = rng.standard_normal(6) * 2, rng.standard_normal(6)
    loss = lambda z: al.sum(u * al.sigmoid(z))
    expected = np.diag(u * sigmoid_second(z))
    np.testing.assert_allclose(F.hessian(loss)(z), expected, atol=1e-15)
    np.testing.assert_allclose(fd_hessian(loss, z), expected, atol=1e-8)
    v = rng.standard_normal(6)
    np.testing.assert_allclose(F.hvp(loss, (z,), (v,))[1][0], u * sigmoid_second(z) * v,
                               atol=1e-15)
    Z, U = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    H = F.hessian(lambda Z: al.sum(U * al.sigmoid(Z)))(Z)
    assert H.shape == (3, 4, 3, 4)
    np.testing.assert_allclose(H.reshape(12, 12), np.diag((U * sigmoid_second(Z)).reshape(-1)),
                               atol=1e-15)


def test_sigmoid_second_derivative_claims_and_a_planted_slip() -> None:
    z = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(sigmoid_second(-z), -sigmoid_second(z), atol=1e-16)
    assert F.grad(F.grad(al.sigmoid))(0.0) == pytest.approx(0.0, abs=1e-16)
    s = sigmoid(z)
    slip = s * (1 - s) ** 2  # differentiating only the (1 − σ) factor
    tape = np.array([F.grad(F.grad(al.sigmoid))(zi) for zi in z])
    # they differ by σ²(1 − σ), far above the tape's rounding error at every point
    assert (np.abs(tape - slip) > 1e-8).all()
    np.testing.assert_allclose(np.abs(tape - slip), s ** 2 * (1 - s), rtol=1e-9)


# --------------------------------------------------------------------- softmax cross-entropy
def _one_row_cases():
    theta = rng.standard_normal(5)
    p = rng.uniform(0.1, 1, 5)
    return [(theta, np.array(2)), (theta, p / p.sum())]


@pytest.mark.parametrize("case", range(2), ids=["class index", "probabilities"])
def test_softmax_cross_entropy_hessian_one_row(case: int) -> None:
    theta, target = _one_row_cases()[case]
    def loss(th):
        return al.softmax_cross_entropy(th.reshape(1, 5), target.reshape(1, *target.shape),
                                        reduction="sum")

    p = softmax_rows(theta)
    expected = np.diag(p) - np.outer(p, p)
    np.testing.assert_allclose(F.hessian(loss)(theta), expected, atol=1e-15)
    np.testing.assert_allclose(fd_hessian(loss, theta), expected, atol=1e-8)
    np.testing.assert_allclose(F.hessian(al.logsumexp)(theta), expected, atol=1e-15)
    v = rng.standard_normal(5)
    np.testing.assert_allclose(F.hvp(loss, (theta,), (v,))[1][0], p * v - p * (p @ v),
                               atol=1e-15)


def test_softmax_cross_entropy_hessian_properties() -> None:
    theta = rng.standard_normal(6) * 3
    H = F.hessian(lambda th: al.softmax_cross_entropy(th[None], np.array([1]),
                                                      reduction="sum"))(theta)
    np.testing.assert_allclose(H, H.T, atol=1e-16)
    assert np.linalg.eigvalsh(H).min() > -1e-14  # positive semi-definite: J is convex
    np.testing.assert_allclose(H @ np.ones(6), 0.0, atol=1e-15)  # shift invariance


def test_unnormalised_target_scales_the_hessian() -> None:
    theta, y = rng.standard_normal(4), np.array([0.5, 0.25, 0.5, 0.25])  # Σy = 1.5
    with pytest.warns(al.TargetWarning):
        H = F.hessian(lambda th: al.softmax_cross_entropy(th[None], y[None], reduction="sum"))(
            theta)
    p = softmax_rows(theta)
    np.testing.assert_allclose(H, 1.5 * (np.diag(p) - np.outer(p, p)), atol=1e-15)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_softmax_cross_entropy_hessian_batch_is_block_diagonal(reduction: str) -> None:
    N, C = 3, 4
    theta, labels = rng.standard_normal((N, C)), np.array([0, 3, 1])
    loss = lambda th: al.softmax_cross_entropy(th, labels, reduction=reduction)
    P = softmax_rows(theta)
    scale = 1.0 / N if reduction == "mean" else 1.0
    expected = np.zeros((N, C, N, C))
    for n in range(N):
        expected[n, :, n, :] = scale * (np.diag(P[n]) - np.outer(P[n], P[n]))
    H = F.hessian(loss)(theta)
    assert H.shape == (N, C, N, C)
    np.testing.assert_allclose(H, expected, atol=1e-15)
    np.testing.assert_allclose(fd_hessian(loss, theta), expected, atol=1e-8)
    V = rng.standard_normal((N, C))
    hv = scale * (P * V - P * (P * V).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(F.hvp(loss, (theta,), (V,))[1][0], hv, atol=1e-15)
