"""al.func: the transforms against closed forms, every pair of transforms composed (and never
mixing their perturbations), has_aux, containers, argnums, results and errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import fd_gradient

import autograd_lite as al
from autograd_lite import func as F

rng = np.random.default_rng(3)


def softmax_np(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


# ------------------------------------------------------------------------------ closed forms
def test_jacobian_of_softmax_is_diag_p_minus_ppT() -> None:
    x = rng.standard_normal(5)
    p = softmax_np(x)
    expected = np.diag(p) - np.outer(p, p)
    for jac in (F.jacrev, F.jacfwd):
        np.testing.assert_allclose(jac(al.softmax)(x), expected, atol=1e-14)


def test_hessian_of_logsumexp_is_diag_p_minus_ppT() -> None:
    x = rng.standard_normal(6)
    p = softmax_np(x)
    np.testing.assert_allclose(F.hessian(al.logsumexp)(x), np.diag(p) - np.outer(p, p),
                               atol=1e-14)
    np.testing.assert_allclose(F.grad(al.logsumexp)(x), p, atol=1e-15)


def test_quadratic_form_with_a_nonsymmetric_matrix() -> None:
    """f(x) = xᵀ A x: ∇f = (A + Aᵀ) x and H = A + Aᵀ (not 2A) for A ≠ Aᵀ."""
    A = rng.standard_normal((4, 4))
    x = rng.standard_normal(4)
    f = lambda x: x @ (A @ x)
    np.testing.assert_allclose(F.grad(f)(x), (A + A.T) @ x, rtol=1e-13)
    for hess in (F.hessian(f)(x), F.jacrev(F.jacrev(f))(x), F.jacrev(F.jacfwd(f))(x),
                 F.jacfwd(F.jacfwd(f))(x)):
        np.testing.assert_allclose(hess, A + A.T, rtol=1e-13, atol=1e-14)
    v = rng.standard_normal(4)
    value, (hv,) = F.hvp(f, (x,), (v,))
    np.testing.assert_allclose(value, x @ A @ x, rtol=1e-13)
    np.testing.assert_allclose(hv, (A + A.T) @ v, rtol=1e-13)


def test_jacobian_shape_is_output_shape_plus_input_shape() -> None:
    x = rng.standard_normal(3)
    W = rng.standard_normal((3, 2))
    f = lambda W: al.tanh(x @ W)
    h = np.tanh(x @ W)
    expected = np.einsum("j,i,jk->jik", 1 - h ** 2, x, np.eye(2))
    for jac in (F.jacrev, F.jacfwd):
        J = jac(f)(W)
        assert J.shape == (2, 3, 2)
        np.testing.assert_allclose(J, expected, rtol=1e-13, atol=1e-15)


def test_hessian_matches_finite_differences_of_the_gradient() -> None:
    W = rng.standard_normal((3, 2))
    x, y = rng.standard_normal((4, 3)), np.array([0, 1, 1, 0])
    loss = lambda W: al.softmax_cross_entropy(x @ W, y)
    H = F.hessian(loss)(W)
    assert H.shape == (3, 2, 3, 2)
    for i, j in itertools.product(range(3), range(2)):
        column = fd_gradient(lambda W, i=i, j=j: float(F.grad(loss)(W)[i, j]), [W], 0)
        np.testing.assert_allclose(H[i, j], column, atol=1e-8)


# ------------------------------------------------------------------- every pair composed
def _ones(x):
    return np.ones(np.shape(x))


# first-derivative operators on a scalar function of a scalar, one per transform
FIRST = {
    "grad": lambda f: F.grad(f),
    "value_and_grad": lambda f: lambda x: F.value_and_grad(f)(x)[1],
    "vjp": lambda f: lambda x: F.vjp(f, x)[1](_ones(x))[0],
    "jvp": lambda f: lambda x: F.jvp(f, (x,), (_ones(x),))[1],
    "linearize": lambda f: lambda x: F.linearize(f, x)[1](_ones(x)),
    "jacrev": lambda f: F.jacrev(f),
    "jacfwd": lambda f: F.jacfwd(f),
}
# second-derivative operators
SECOND = {
    "hessian": lambda f: F.hessian(f),
    "hvp": lambda f: lambda x: F.hvp(f, (x,), (_ones(x),))[1][0],
}


def f0(x):
    return al.exp(x) * x ** 3


def d1(x):
    return np.exp(x) * (x ** 3 + 3 * x ** 2)


def d2(x):
    return np.exp(x) * (x ** 3 + 6 * x ** 2 + 6 * x)


def d3(x):
    return np.exp(x) * (x ** 3 + 9 * x ** 2 + 18 * x + 6)


X0 = np.array(0.7)


@pytest.mark.parametrize("name", sorted(FIRST))
def test_each_first_order_transform(name: str) -> None:
    np.testing.assert_allclose(FIRST[name](f0)(X0), d1(0.7), rtol=1e-13)


@pytest.mark.parametrize(("outer", "inner"), list(itertools.product(sorted(FIRST), repeat=2)))
def test_every_pair_gives_the_second_derivative(outer: str, inner: str) -> None:
    value = FIRST[outer](FIRST[inner](f0))(X0)
    assert isinstance(value, np.ndarray)  # a top-level result is a NumPy array
    np.testing.assert_allclose(value, d2(0.7), rtol=1e-12)


@pytest.mark.parametrize(("outer", "inner"), list(itertools.product(sorted(FIRST), repeat=2)))
def test_nested_levels_never_mix_perturbations(outer: str, inner: str) -> None:
    """d/dx [x · d/dy (x + y)] = 1 (2 if the inner level saw the outer x's perturbation), and
    d/dx [x · d/dy (x · y)] = 2x (the closure over x is a constant to the inner level)."""
    y0 = np.array(3.0)
    plus = FIRST[outer](lambda x: x * FIRST[inner](lambda y: x + y)(y0))(np.array(2.0))
    times = FIRST[outer](lambda x: x * FIRST[inner](lambda y: x * y)(y0))(np.array(2.0))
    np.testing.assert_allclose(plus, 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(times, 4.0, rtol=1e-15)


@pytest.mark.parametrize("second", sorted(SECOND))
@pytest.mark.parametrize("first", sorted(FIRST))
def test_second_order_transforms_compose_with_first_order(first: str, second: str) -> None:
    np.testing.assert_allclose(SECOND[second](f0)(X0), d2(0.7), rtol=1e-12)
    np.testing.assert_allclose(FIRST[first](SECOND[second](f0))(X0), d3(0.7), rtol=1e-11)
    np.testing.assert_allclose(SECOND[second](FIRST[first](f0))(X0), d3(0.7), rtol=1e-11)


def test_third_order_by_three_nested_transforms() -> None:
    for a, b, c in [("grad", "jvp", "jacrev"), ("jvp", "jvp", "jvp"), ("vjp", "grad", "jacfwd")]:
        value = FIRST[a](FIRST[b](FIRST[c](f0)))(X0)
        np.testing.assert_allclose(value, d3(0.7), rtol=1e-11)


def test_vjp_of_jvp_and_jvp_of_vjp_on_vectors() -> None:
    """Mixed second derivatives of f(x) = Σ tanh(x)² · x: uᵀ H v both ways, and by FD."""
    f = lambda x: al.sum(al.tanh(x) ** 2 * x)
    x, u, v = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal(4)
    _, pull = F.vjp(lambda x: F.jvp(f, (x,), (v,))[1], x)
    rev_over_fwd = pull(np.array(1.0))[0]
    fwd_over_rev = F.jvp(lambda x: F.grad(f)(x), (x,), (v,))[1]
    H = np.array([fd_gradient(lambda x, i=i: float(F.grad(f)(x)[i]), [x], 0)
                  for i in range(4)])
    np.testing.assert_allclose(rev_over_fwd, H @ v, atol=1e-8)
    np.testing.assert_allclose(fwd_over_rev, H @ v, atol=1e-8)
    np.testing.assert_allclose(u @ fwd_over_rev, u @ rev_over_fwd, rtol=1e-12)


# ------------------------------------------------------------------ has_aux, containers, argnums
def test_has_aux_everywhere() -> None:
    x = np.array([1.0, 2.0])

    def f(x):
        y = al.exp(x)
        return al.sum(y), {"y": y, "label": "kept"}

    g, aux = F.grad(f, has_aux=True)(x)
    np.testing.assert_allclose(g, np.exp(x))
    np.testing.assert_allclose(aux["y"], np.exp(x))
    assert aux["label"] == "kept" and isinstance(aux["y"], np.ndarray)
    (value, aux), g = F.value_and_grad(f, has_aux=True)(x)
    np.testing.assert_allclose(value, np.exp(x).sum())
    out, pull, aux = F.vjp(f, x, has_aux=True)
    np.testing.assert_allclose(out, np.exp(x).sum())
    np.testing.assert_allclose(pull(np.array(2.0))[0], 2 * np.exp(x))
    np.testing.assert_allclose(aux["y"], np.exp(x))
    _out, tangent, aux = F.jvp(f, (x,), (np.array([1.0, 0.0]),), has_aux=True)
    np.testing.assert_allclose(tangent, np.exp(1.0))
    for jac in (F.jacrev, F.jacfwd):
        J, aux = jac(lambda x: (al.exp(x), x.shape), has_aux=True)(x)
        np.testing.assert_allclose(J, np.diag(np.exp(x)))
        assert aux == (2,)
    with pytest.raises(al.InputValueError, match="has_aux=True"):
        F.grad(lambda x: al.sum(x), has_aux=True)(x)


def test_containers_are_differentiated_leaf_by_leaf() -> None:
    x = rng.standard_normal((4, 3))
    params = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}

    def loss(p, x):
        return al.mean(al.tanh(x @ p["W"] + p["b"]) ** 2)

    g = F.grad(loss)(params, x)
    assert set(g) == {"W", "b"} and g["W"].shape == (3, 2) and g["b"].shape == (2,)
    for key in params:
        def partial(a, key=key):
            return float(np.asarray(loss({**params, key: a}, x)))
        np.testing.assert_allclose(g[key], fd_gradient(partial, [params[key]], 0), atol=1e-9)
    # tuples and lists keep their type; jacobians of containers
    gt = F.grad(lambda t: al.sum(t[0] * t[1][0]))((np.ones(2), [np.full(2, 3.0)]))
    assert isinstance(gt, tuple) and isinstance(gt[1], list)
    np.testing.assert_allclose(gt[0], 3.0)
    np.testing.assert_allclose(gt[1][0], 1.0)
    for jac in (F.jacrev, F.jacfwd):
        J = jac(lambda p: p["W"].sum(axis=0) * p["b"])(params)
        assert J["W"].shape == (2, 3, 2) and J["b"].shape == (2, 2)
        np.testing.assert_allclose(J["b"], np.diag(params["W"].sum(axis=0)))
        J = jac(lambda a: (a * 2.0, al.sum(a)))(np.ones(3))  # a container output
        np.testing.assert_allclose(J[0], 2 * np.eye(3))
        np.testing.assert_allclose(J[1], np.ones(3))
    # jvp with container primals
    _out, tangent = F.jvp(lambda p: p["a"] * p["b"], ({"a": np.array(2.0), "b": np.array(5.0)},),
                         ({"a": np.array(1.0), "b": np.array(0.0)},))
    assert float(tangent) == 5.0


def test_argnums_int_tuple_and_negative() -> None:
    f = lambda x, y, z: al.sum(x * y ** 2 + z)
    x, y, z = np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([5.0, 6.0])
    np.testing.assert_allclose(F.grad(f)(x, y, z), y ** 2)
    np.testing.assert_allclose(F.grad(f, argnums=1)(x, y, z), 2 * x * y)
    gx, gz = F.grad(f, argnums=(0, 2))(x, y, z)
    np.testing.assert_allclose(gx, y ** 2)
    np.testing.assert_allclose(gz, 1.0)
    np.testing.assert_allclose(F.grad(f, argnums=-2)(x, y, z), 2 * x * y)
    Jx, Jy = F.jacfwd(lambda x, y: x * y, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(Jx, np.diag(y))
    np.testing.assert_allclose(Jy, np.diag(x))
    H = F.hessian(f, argnums=(0, 1))(x, y, z)
    np.testing.assert_allclose(H[0][1], np.diag(2 * y))
    np.testing.assert_allclose(H[1][1], np.diag(2 * x))
    np.testing.assert_allclose(H[0][0], 0.0)
    with pytest.raises(al.InputValueError, match="out of range"):
        F.grad(f, argnums=3)(x, y, z)


def test_keyword_arguments_pass_through() -> None:
    f = lambda x, scale=1.0: al.sum(x * scale)
    np.testing.assert_allclose(F.grad(f)(np.ones(2), scale=3.0), 3.0)


# -------------------------------------------------------------------- results and errors
def test_tensor_inputs_that_require_grad_give_tensors_with_history() -> None:
    w = al.Tensor(np.array([0.5, -1.0]), requires_grad=True)
    g = F.grad(lambda w: al.sum(w ** 3))(w)
    assert isinstance(g, al.Tensor) and g.requires_grad
    al.sum(g).backward()
    np.testing.assert_allclose(w.grad, 6 * w.data)


def test_inputs_are_never_modified_and_results_never_alias_them() -> None:
    x = np.array([1.0, 2.0])
    before = x.copy()
    out, pull = F.vjp(lambda x: x, x)
    g = pull(np.ones(2))[0]
    out[0] = g[0] = 42.0
    assert F.jacfwd(lambda x: x)(x)[0, 0] == 1.0
    np.testing.assert_array_equal(x, before)


def test_python_numbers_and_float32() -> None:
    assert float(F.grad(lambda x: x * x)(3.0)) == 6.0
    x = np.array([1.0, 2.0], dtype=np.float32)
    g = F.grad(lambda x: al.sum(al.exp(x)))(x)
    assert g.dtype == np.float32
    assert F.hessian(lambda x: al.sum(x ** 3))(x).dtype == np.float32


def test_errors_name_the_problem() -> None:
    with pytest.raises(al.ShapeError, match="single-element"):
        F.grad(lambda x: x * 2)(np.ones(3))
    with pytest.raises(al.DTypeError, match="int64"):
        F.grad(lambda x: al.sum(x * 1.0))(np.array([1, 2]))
    with pytest.raises(al.InputValueError, match="tuples"):
        F.jvp(al.exp, np.ones(2), np.ones(2))
    _out, pull = F.vjp(al.exp, np.ones(2))
    with pytest.raises(al.ShapeError, match="cotangent 0 has shape"):
        pull(np.ones(3))


def test_outputs_independent_of_inputs_have_zero_derivatives() -> None:
    x = np.ones(3)
    np.testing.assert_array_equal(F.grad(lambda x: al.Tensor(2.0))(x), np.zeros(3))
    np.testing.assert_array_equal(F.jacrev(lambda x: np.ones(2))(x), np.zeros((2, 3)))
    np.testing.assert_array_equal(F.hessian(lambda x: al.sum(x * 2.0))(x), np.zeros((3, 3)))


def test_al_grad_keeps_its_pytorch_meaning() -> None:
    x = al.Tensor([1.0, 2.0], requires_grad=True)
    (g,) = al.grad(al.sum(x * x), x)
    np.testing.assert_allclose(g, [2.0, 4.0])
