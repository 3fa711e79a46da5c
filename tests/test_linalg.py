"""Linear algebra (al.linalg): values against numpy.linalg, gradients of orders 1 and 2 against
central differences (float64 and float32, single and stacked matrices), JVP rules, the same
through np.linalg.*, closed forms from matrix calculus, and the documented degenerate cases."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from gradient_checks import (
    assert_float32_keeps_dtype,
    assert_second_order_matches_fd,
    first_order,
)
from helpers import Samples, assert_jvp_matches_fd, assert_matches_fd
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_lite as al

L = al.linalg
SAMPLES = Samples(3)
RNG, normal = SAMPLES.rng, SAMPLES.normal


def well_conditioned(*shape: int) -> np.ndarray:
    """Square matrices (stacked) with eigenvalues near 3: safely invertible, det > 0."""
    n = shape[-1]
    return normal(*shape) * 0.4 + 3 * np.eye(n)


def spd(*shape: int) -> np.ndarray:
    """Symmetric positive definite matrices with well-separated eigenvalues."""
    n = shape[-1]
    q, _ = np.linalg.qr(normal(*shape))
    return q @ (np.arange(1, n + 1) * 1.5 * np.eye(n)) @ np.swapaxes(q, -1, -2)


# (label, function of tensors, arrays, the op and its settings for the JVP check, the
# np.linalg call that must give the same result)
Case = tuple[str, Any, list[np.ndarray], tuple[str, dict[str, Any]] | None, Any]
CASES: list[Case] = []
for shape in [(3, 3), (2, 3, 3), (1, 1)]:
    A, S = well_conditioned(*shape), spd(*shape)
    B = normal(*shape[:-1], 2)
    CASES += [
        ("inv", lambda a: L.inv(a), [A], ("inv", {}), lambda a: np.linalg.inv(a)),
        ("solve", lambda a, b: L.solve(a, b), [A, B], ("solve", {}),
         lambda a, b: np.linalg.solve(a, b)),
        ("det", lambda a: L.det(a), [A], ("det", {}), lambda a: np.linalg.det(a)),
        ("slogdet", lambda a: L.slogdet(a)[1], [A], ("logabsdet", {}),
         lambda a: np.linalg.slogdet(a)[1]),
        ("logdet", lambda a: L.logdet(a), [S], ("logdet", {}), None),
        ("cholesky", lambda a: L.cholesky(a), [S], ("cholesky", {}),
         lambda a: np.linalg.cholesky(a)),
        ("cholesky-upper", lambda a: L.cholesky(a, upper=True), [S],
         ("cholesky", {"upper": True}), lambda a: np.linalg.cholesky(a, upper=True)),
        ("eigh-values", lambda a: L.eigh(a)[0], [S], ("eigh", {}),
         lambda a: np.linalg.eigh(a)[0]),
        ("eigh-vectors", lambda a: L.eigh(a)[1] ** 2, [S], ("eigh", {"UPLO": "U"}),
         lambda a: np.linalg.eigh(a)[1] ** 2),
        ("eigh-upper", lambda a: L.eigh(a, "U")[1] ** 2 + L.eigh(a, "U")[0][..., None, :],
         [S], None, lambda a: np.linalg.eigh(a, "U")[1] ** 2 + np.linalg.eigh(a, "U")[0][
             ..., None, :]),
        ("eigvalsh", lambda a: L.eigvalsh(a), [S], None, lambda a: np.linalg.eigvalsh(a)),
        ("matrix_power-3", lambda a: L.matrix_power(a, 3), [A], ("matrix_power", {"n": 3}),
         lambda a: np.linalg.matrix_power(a, 3)),
        ("matrix_power--2", lambda a: L.matrix_power(a, -2), [A],
         ("matrix_power", {"n": -2}), lambda a: np.linalg.matrix_power(a, -2)),
        ("matrix_power-1", lambda a: L.matrix_power(a, 1), [A], ("matrix_power", {"n": 1}),
         lambda a: np.linalg.matrix_power(a, 1)),
        ("qr-square", lambda a: L.qr(a)[0] + L.qr(a)[1], [A], ("qr", {}),
         lambda a: np.linalg.qr(a)[0] + np.linalg.qr(a)[1]),
        ("svd-square", lambda a: L.svd(a)[0] * L.svd(a)[2].mT + L.svd(a)[1][..., None, :],
         [A], ("svd", {}), None),
    ]
CASES += [
    ("solve-vector", lambda a, b: L.solve(a, b), [well_conditioned(3, 3), normal(3)],
     ("solve", {}), lambda a, b: np.linalg.solve(a, b)),
    ("solve-broadcast", lambda a, b: L.solve(a, b), [well_conditioned(3, 3), normal(2, 3, 2)],
     ("solve", {}), lambda a, b: np.linalg.solve(a, b)),
    ("solve-vector-stack", lambda a, b: L.solve(a, b), [well_conditioned(2, 3, 3), normal(3)],
     ("solve", {}), lambda a, b: np.linalg.solve(a, b)),
    ("matrix_power-0", lambda a: L.matrix_power(a, 0) * a, [well_conditioned(3, 3)],
     ("matrix_power", {"n": 0}), lambda a: np.linalg.matrix_power(a, 0) * a),
    ("pinv-tall", lambda a: L.pinv(a), [normal(4, 2)], ("pinv", {}),
     lambda a: np.linalg.pinv(a)),
    ("pinv-wide", lambda a: L.pinv(a), [normal(2, 2, 4)], ("pinv", {}),
     lambda a: np.linalg.pinv(a)),
    ("svd-values", lambda a: L.svd(a, compute_uv=False), [normal(4, 3)],
     ("svd", {"compute_uv": False}), lambda a: np.linalg.svd(a, compute_uv=False)),
    ("svd-values-full", lambda a: L.svd(a)[1], [normal(2, 3)], None,
     lambda a: np.linalg.svd(a)[1]),
    ("svd-tall", lambda a: L.svd(a, full_matrices=False)[0] ** 2, [normal(4, 2)],
     ("svd", {"full_matrices": False}),
     lambda a: np.linalg.svd(a, full_matrices=False)[0] ** 2),
    ("svd-wide", lambda a: L.svd(a, full_matrices=False)[2] ** 2, [normal(2, 2, 4)],
     ("svd", {"full_matrices": False}),
     lambda a: np.linalg.svd(a, full_matrices=False)[2] ** 2),
    ("qr-tall", lambda a: L.qr(a)[0] * 2 + L.qr(a)[1].sum(), [normal(2, 4, 3)], ("qr", {}),
     None),
    ("qr-r", lambda a: L.qr(a, mode="r"), [normal(4, 3)], ("qr", {"mode": "r"}),
     lambda a: np.linalg.qr(a, mode="r")),
]
VECTOR_ORDS: list[Any] = [None, 2, 1, np.inf, -np.inf, 3, 1.5, 0.5, -1, 0]
MATRIX_ORDS: list[Any] = [None, "fro", "nuc", 2, -2, 1, -1, np.inf, -np.inf]
for order in VECTOR_ORDS:
    for axis, keepdims, shape in [(None, False, (5,)), (0, False, (4, 3)), (-1, True, (4, 3)),
                                  (1, False, (2, 3, 4))]:
        if order is None and axis is None:
            shape = (2, 3, 2)
        kwargs = {"ord": order, "axis": axis, "keepdims": keepdims}
        CASES.append((f"norm-{kwargs}", lambda x, k=kwargs: L.norm(x, **k), [normal(*shape)],
                      ("norm", kwargs), lambda x, k=kwargs: np.linalg.norm(x, **k)))
for order in MATRIX_ORDS:
    for axis, keepdims, shape in [(None, False, (3, 4)), ((0, 2), True, (3, 2, 4)),
                                  ((2, 1), False, (2, 4, 3))]:
        kwargs = {"ord": order, "axis": axis, "keepdims": keepdims}
        CASES.append((f"norm-{kwargs}", lambda x, k=kwargs: L.norm(x, **k), [normal(*shape)],
                      ("norm", kwargs), lambda x, k=kwargs: np.linalg.norm(x, **k)))


def _label(case: Case) -> str:
    return f"{case[0]}-{np.shape(case[2][0])}"


@pytest.mark.parametrize("case", CASES, ids=_label)
def test_first_order_float64_and_float32(case: Case) -> None:
    _, fn, arrays, _, _ = case
    assert_matches_fd(fn, arrays)
    assert_float32_keeps_dtype(fn, arrays)


@pytest.mark.parametrize("case", CASES, ids=_label)
def test_second_order(case: Case) -> None:
    _, fn, arrays, _, _ = case
    assert_second_order_matches_fd(fn, arrays, tol=1e-5)


@pytest.mark.parametrize("case", [c for c in CASES if c[3] is not None], ids=_label)
def test_jvp_rule(case: Case) -> None:
    _, _, arrays, (name, kwargs), _ = case
    assert_jvp_matches_fd(al.get_op(name), arrays, **kwargs)


@pytest.mark.parametrize("case", [c for c in CASES if c[4] is not None], ids=_label)
def test_numpy_linalg_dispatch_gives_the_same_values_and_gradients(case: Case) -> None:
    _, fn, arrays, _, numpy_fn = case
    with al.no_grad():
        ours = fn(*[al.Tensor(a) for a in arrays])
        theirs = numpy_fn(*[al.Tensor(a) for a in arrays])
    assert isinstance(theirs, al.Tensor)
    np.testing.assert_allclose(theirs.data, numpy_fn(*arrays), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(ours.data, theirs.data)
    weights = RNG.standard_normal(ours.shape)
    for x, y in zip(first_order(fn, arrays, weights), first_order(numpy_fn, arrays, weights)):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------- closed forms
def test_gradient_of_log_det_is_the_inverse_transpose() -> None:
    """∂ log|det X| / ∂X = X⁻ᵀ, for a general (non-symmetric) X, and for logdet with det > 0."""
    x = normal(4, 4)
    (grad,) = first_order(lambda t: L.slogdet(t)[1], [x], np.ones(()))
    np.testing.assert_allclose(grad, np.linalg.inv(x).T, rtol=1e-10)
    y = well_conditioned(4, 4)
    (grad,) = first_order(lambda t: L.logdet(t), [y], np.ones(()))
    np.testing.assert_allclose(grad, np.linalg.inv(y).T, rtol=1e-10)
    (grad,) = first_order(lambda t: L.det(t), [y], np.ones(()))
    np.testing.assert_allclose(grad, np.linalg.det(y) * np.linalg.inv(y).T, rtol=1e-10)


def test_gradient_of_trace_of_a_times_inverse() -> None:
    """∂ tr(A X⁻¹) / ∂X = −X⁻ᵀ Aᵀ X⁻ᵀ."""
    a, x = normal(3, 3), well_conditioned(3, 3)
    (grad,) = first_order(lambda t: al.trace(a @ L.inv(t)), [x], np.ones(()))
    inv_t = np.linalg.inv(x).T
    np.testing.assert_allclose(grad, -inv_t @ a.T @ inv_t, rtol=1e-10)


def _gaussian_nll(x: np.ndarray, mu: Any, sigma: Any, how: str) -> Any:
    """Σₙ ½ (xₙ − μ)ᵀ Σ⁻¹ (xₙ − μ) + N/2 log det Σ + N d/2 log 2π, three ways."""
    n, d = x.shape
    r = x - mu
    if how == "solve":
        quadratic = al.sum(r * L.solve(sigma, r.T).T)
        return 0.5 * quadratic + 0.5 * n * L.logdet(sigma) + 0.5 * n * d * np.log(2 * np.pi)
    if how == "inv":
        quadratic = al.einsum("ni,ij,nj->", r, L.inv(sigma), r)
        return 0.5 * quadratic + 0.5 * n * L.slogdet(sigma)[1] + 0.5 * n * d * np.log(
            2 * np.pi)
    chol = L.cholesky(sigma)  # reads the lower triangle of Σ
    z = L.solve(chol, r.T)
    log_det = 2 * al.sum(al.log(al.diagonal(chol)))
    return 0.5 * al.sum(z * z) + 0.5 * n * log_det + 0.5 * n * d * np.log(2 * np.pi)


@pytest.mark.parametrize("how", ["solve", "inv", "cholesky"])
def test_gaussian_negative_log_likelihood_with_full_covariance(how: str) -> None:
    """Closed forms: ∂/∂μ = −Σ⁻¹ Σₙ (xₙ − μ); ∂/∂Σ = Σₙ ½ (Σ⁻¹ − Σ⁻¹ rₙ rₙᵀ Σ⁻¹) =: G.

    Convention: solve/inv/logdet read every entry of Σ, so the tape gives the gradient of the
    function of a general matrix, which at a symmetric Σ is G itself. cholesky reads only the
    lower triangle, so the tape gives G's lower-triangle form: 2Gᵢⱼ below the diagonal, Gᵢᵢ on
    it, 0 above. Both agree with G along every symmetric direction dΣ (checked too)."""
    x, mu, sigma = normal(6, 3), normal(3), spd(3, 3)
    value = _gaussian_nll(x, al.Tensor(mu), al.Tensor(sigma), how).item()
    r = x - mu
    precision = np.linalg.inv(sigma)
    expected = 0.5 * np.einsum("ni,ij,nj->", r, precision, r) + 3 * np.linalg.slogdet(
        sigma)[1] + 9 * np.log(2 * np.pi)
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    grad_mu, grad_sigma = first_order(lambda m, s: _gaussian_nll(x, m, s, how), [mu, sigma],
                                      np.ones(()))
    np.testing.assert_allclose(grad_mu, -precision @ r.sum(axis=0), rtol=1e-10)
    g = 0.5 * (len(x) * precision - precision @ r.T @ r @ precision)
    expected_sigma = np.tril(2 * g) - np.diag(np.diag(g)) if how == "cholesky" else g
    np.testing.assert_allclose(grad_sigma, expected_sigma, rtol=1e-10, atol=1e-12)
    direction = normal(3, 3)
    direction = direction + direction.T
    np.testing.assert_allclose(np.sum(grad_sigma * direction), np.sum(g * direction),
                               rtol=1e-10)
    assert_second_order_matches_fd(lambda m, s: _gaussian_nll(x, m, s, how), [mu, sigma],
                                   tol=1e-5)


def test_eigh_eigenvalue_gradients_are_outer_products_of_eigenvectors() -> None:
    """∂wₖ/∂A = vₖvₖᵀ for a symmetric A; with A = B + Bᵀ, ∂wₖ/∂B = 2 vₖvₖᵀ."""
    b = normal(4, 4)
    _w, v = np.linalg.eigh(b + b.T)
    for k in range(4):
        seed = np.eye(4)[k]
        (grad,) = first_order(lambda t: L.eigh(t + t.T)[0], [b], seed)
        np.testing.assert_allclose(grad, 2 * np.outer(v[:, k], v[:, k]), rtol=1e-9, atol=1e-12)
    # eigh reads the lower triangle: ∂wₖ/∂Aᵢⱼ = 2 vᵢvⱼ below the diagonal, vᵢ² on it, 0 above
    a = b + b.T
    (grad,) = first_order(lambda t: L.eigh(t)[0], [a], np.eye(4)[1])
    outer = np.outer(v[:, 1], v[:, 1])
    np.testing.assert_allclose(grad, np.tril(2 * outer) - np.diag(np.diag(outer)), atol=1e-12)


def test_svd_singular_value_gradients_are_u_v_outer_products() -> None:
    """∂σₖ/∂A = uₖ vₖᵀ."""
    a = normal(5, 3)
    u, _s, vh = np.linalg.svd(a, full_matrices=False)
    for k in range(3):
        (grad,) = first_order(lambda t: L.svd(t, full_matrices=False)[1], [a], np.eye(3)[k])
        np.testing.assert_allclose(grad, np.outer(u[:, k], vh[k]), rtol=1e-9, atol=1e-12)


def test_svd_and_eigh_reconstruct_their_input_with_identity_gradient() -> None:
    """U diag(S) Vh = A and V diag(w) Vᵀ = A (lower triangle read): the gradient of
    Σ W ∘ reconstruction is W (for eigh, its lower-triangle form)."""
    a, weights = normal(4, 3), normal(4, 3)
    (grad,) = first_order(lambda t: (lambda u, s, vh: (u * s[None, :]) @ vh)(
        *L.svd(t, full_matrices=False)), [a], weights)
    np.testing.assert_allclose(grad, weights, rtol=1e-9, atol=1e-10)
    sym, w2 = spd(3, 3), normal(3, 3)
    (grad,) = first_order(lambda t: (lambda w, v: (v * w[None, :]) @ v.T)(*L.eigh(t)),
                          [sym], w2)
    symmetric = w2 + w2.T
    np.testing.assert_allclose(grad, np.tril(symmetric) - np.diag(np.diag(w2)), atol=1e-9)


def test_pinv_of_a_tall_matrix_equals_the_normal_equations_inverse() -> None:
    """For full column rank, A⁺ = (AᵀA)⁻¹Aᵀ: same values and gradients (an independent
    composite of inv and matmul)."""
    a, weights = normal(5, 3), normal(3, 5)
    ours = first_order(lambda t: L.pinv(t), [a], weights)
    composite = first_order(lambda t: L.inv(t.T @ t) @ t.T, [a], weights)
    np.testing.assert_allclose(ours[0], composite[0], rtol=1e-9, atol=1e-12)


def test_qr_reconstructs_and_q_is_orthonormal() -> None:
    a, weights = normal(5, 3), normal(5, 3)
    (grad,) = first_order(lambda t: (lambda q, r: q @ r)(*L.qr(t)), [a], weights)
    np.testing.assert_allclose(grad, weights, rtol=1e-9, atol=1e-12)


def test_vector_norm_at_zero_has_subgradient_zero() -> None:
    for order in (None, 2, 3, 1, np.inf):
        x = al.Tensor(np.zeros(4), requires_grad=True)
        L.norm(x, order).backward()
        np.testing.assert_array_equal(x.grad, np.zeros(4))
    x = al.Tensor(np.array([[0.0, 0.0], [3.0, 4.0]]), requires_grad=True)
    L.norm(x, axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0], [0.6, 0.8]])


def test_norm_ties_share_the_gradient() -> None:
    """max |x| reached twice: each tied element gets half, with its sign (as al.max)."""
    x = al.Tensor([3.0, -3.0, 1.0], requires_grad=True)
    L.norm(x, np.inf).backward()
    np.testing.assert_allclose(x.grad, [0.5, -0.5, 0.0])


# ------------------------------------------------------------------------ degenerate cases
def test_eigh_with_a_repeated_eigenvalue() -> None:
    """Eigenvectors of a repeated eigenvalue are not unique: their gradient is refused. The
    eigenvalues' gradient (V diag(w̄) Vᵀ) exists and is computed."""
    a = al.Tensor(np.diag([2.0, 2.0, 5.0]), requires_grad=True)
    _w, v = L.eigh(a)
    with pytest.raises(al.InputValueError, match="eigenvalues are equal"):
        (v ** 2 * np.arange(9.0).reshape(3, 3)).sum().backward()
    a.grad = None
    L.eigh(a)[0].sum().backward()  # Σ w = tr A: gradient I
    np.testing.assert_allclose(a.grad, np.eye(3), atol=1e-12)


def test_svd_with_repeated_singular_values_refuses_vector_gradients() -> None:
    a = al.Tensor(np.eye(3)[:, :2] * 2.0, requires_grad=True)
    u, _s, _vh = L.svd(a, full_matrices=False)
    with pytest.raises(al.InputValueError, match="singular values are equal"):
        (u * np.arange(6.0).reshape(3, 2)).sum().backward()
    a.grad = None
    L.svd(a, compute_uv=False).sum().backward()  # nuclear norm: gradient U Vᵀ
    np.testing.assert_allclose(a.grad, np.eye(3)[:, :2], atol=1e-12)


@pytest.mark.parametrize(("call", "array", "error", "words"), [
    (lambda a: L.inv(a), np.ones((2, 2)), al.InputValueError, "singular"),
    (lambda a: L.solve(a, np.ones(2)), np.ones((2, 2)), al.InputValueError, "singular"),
    (lambda a: L.cholesky(a), -np.eye(2), al.InputValueError, "positive definite"),
    (lambda a: L.logdet(a), np.diag([1.0, -1.0]), al.InputValueError, "negative"),
    (lambda a: L.inv(a), np.ones((2, 3)), al.ShapeError, "square"),
    (lambda a: L.det(a), np.ones(3), al.ShapeError, "matrix"),
    (lambda a: L.svd(a, hermitian=True), np.eye(2), al.InputValueError, "eigh"),
    (lambda a: L.qr(a, mode="raw"), np.eye(2), al.InputValueError, "raw"),
    (lambda a: L.norm(a, "fro", axis=0), np.eye(2), al.InputValueError, "matrix norm"),
    (lambda a: L.norm(a, 3), np.eye(2), al.InputValueError, "not a matrix norm"),
    (lambda a: L.matrix_power(a, 1.5), np.eye(2), al.InputValueError, "integer"),
    (lambda a: L.eig(a), np.eye(2), al.AutogradLiteError, "complex"),
    (lambda a: L.inv(a), np.eye(2) * (1 + 1j), al.DTypeError, "complex"),
])
def test_refusals(call: Any, array: np.ndarray, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        call(array if array.dtype.kind == "c" else al.Tensor(array, requires_grad=True))


@pytest.mark.parametrize(("build", "words"), [
    (lambda a: L.svd(a)[0].sum(), "full_matrices=False"),
    (lambda a: L.qr(a.T)[0].sum(), "square or tall"),
    (lambda a: L.det(a[:2, :2] * 0.0), "singular"),
])
def test_refused_gradients(build: Any, words: str) -> None:
    a = al.Tensor(normal(4, 3), requires_grad=True)
    with pytest.raises(al.InputValueError, match=words):
        build(a).backward()


def test_logdet_of_a_singular_matrix_is_minus_infinity() -> None:
    """As log 0 (and PyTorch's logdet): −inf, without NaN; its gradient is refused (singular)."""
    value = L.logdet(al.Tensor(np.zeros((2, 2)), requires_grad=True))
    assert value.item() == -np.inf


def test_through_numpy_linalg_namespace() -> None:
    t = al.Tensor(spd(3, 3), requires_grad=True)
    w, _v = np.linalg.eigh(t)
    sign, logabs = np.linalg.slogdet(t)
    assert isinstance(w, al.Tensor) and isinstance(logabs, al.Tensor)
    assert float(sign) == 1.0
    (logabs + w.sum() + np.linalg.norm(t, "nuc")).backward()
    assert t.grad.shape == (3, 3)


# ------------------------------------------------------------------------------ hypothesis
@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), batch=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_hypothesis_spd_matrices(n: int, batch: int, seed: int) -> None:
    """Random SPD stacks: ∂ log det Σ = Σ⁻¹, ∂ tr Σ through eigh's eigenvalues = I, Cholesky's
    factor reproduces Σ, and inv's gradient against central differences."""
    rng = np.random.default_rng(seed)
    b = rng.standard_normal((batch, n, n))
    sigma = b @ np.swapaxes(b, -1, -2) + n * np.eye(n)
    (grad,) = first_order(lambda t: L.logdet(t), [sigma], np.ones(batch))
    np.testing.assert_allclose(grad, np.linalg.inv(sigma), rtol=1e-8, atol=1e-10)
    (grad,) = first_order(lambda t: L.eigh(t)[0], [sigma], np.ones((batch, n)))
    np.testing.assert_allclose(grad, np.broadcast_to(np.eye(n), sigma.shape), atol=1e-8)
    chol = L.cholesky(al.Tensor(sigma)).data
    np.testing.assert_allclose(chol @ np.swapaxes(chol, -1, -2), sigma, rtol=1e-10)
    assert_matches_fd(lambda t: L.inv(t), [sigma], seed=seed)


# ------------------------------------------------- numpy.linalg's array-API names (NumPy 2)
ARRAY_API: list[tuple[str, list[np.ndarray], dict[str, Any]]] = [
    ("matrix_norm", [normal(2, 3, 4)], {}), ("matrix_norm", [normal(3, 4)], {"ord": "nuc"}),
    ("matrix_norm", [normal(2, 3, 3)], {"ord": 1, "keepdims": True}),
    ("vector_norm", [normal(2, 3, 4)], {}), ("vector_norm", [normal(2, 3, 4)], {"axis": 1}),
    ("vector_norm", [normal(2, 3, 4)], {"axis": (0, 2), "keepdims": True, "ord": 3}),
    ("vector_norm", [normal(2, 3, 4)], {"axis": (2, 0), "ord": np.inf}),
    ("svdvals", [normal(2, 4, 3)], {}),
    ("multi_dot", [normal(3), normal(3, 4), normal(4, 2), normal(2)], {}),
    ("matrix_transpose", [normal(2, 3, 4)], {}),
    ("vecdot", [normal(2, 3), normal(3)], {}), ("vecdot", [normal(3, 2), normal(3, 1)],
                                                {"axis": 0}),
    ("outer", [normal(3), normal(2)], {}), ("cross", [normal(3, 4), normal(3, 4)],
                                            {"axis": 0}),
    ("matmul", [normal(2, 3, 4), normal(4, 2)], {}),
    ("tensordot", [normal(3, 4), normal(4, 3)], {"axes": 1}),
    ("diagonal", [normal(2, 3, 4)], {"offset": 1}), ("trace", [normal(2, 4, 4)], {"offset": -1}),
]


@pytest.mark.parametrize(("name", "arrays", "kwargs"), ARRAY_API,
                         ids=[f"{n}-{k}" for n, _, k in ARRAY_API])
def test_numpy_linalg_array_api_functions(name: str, arrays: list[np.ndarray],
                                          kwargs: dict[str, Any]) -> None:
    """np.linalg.<name> on tensors reaches al.linalg.<name>: NumPy's values, and gradients of
    orders 1 and 2 against central differences."""
    numpy_fn = getattr(np.linalg, name)

    def call(*xs: Any) -> Any:
        return numpy_fn(list(xs), **kwargs) if name == "multi_dot" else numpy_fn(*xs, **kwargs)

    got = call(*[al.Tensor(a) for a in arrays])
    assert isinstance(got, al.Tensor)
    np.testing.assert_allclose(got.data, call(*arrays), rtol=1e-12, atol=1e-12)
    assert_matches_fd(call, arrays)
    assert_second_order_matches_fd(lambda *xs: call(*xs) ** 2, arrays)


def test_matrix_power_zero_of_a_stack_has_a_zero_gradient_of_the_stack_s_shape():
    """A⁰ = I whatever A is, for each matrix of a stack: the gradient is 0, of A's shape."""
    stack = al.Tensor(np.random.default_rng(3).standard_normal((3, 2, 2)), requires_grad=True)
    (al.linalg.matrix_power(stack, 0) * np.arange(12.0).reshape(3, 2, 2)).sum().backward()
    assert stack.grad.shape == (3, 2, 2) and not stack.grad.any()
