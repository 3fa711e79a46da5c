"""Products (autograd_lite.products): values against NumPy, gradients of orders 1 and 2 against
central differences (float64 and float32), JVP rules, the same through np.*, einsum's
subscript forms (explicit, implicit, '...', repeated indices) and the refusals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from gradient_checks import (
    assert_float32_keeps_dtype,
    assert_second_order_matches_fd,
    first_order,
)
from helpers import Samples, assert_jvp_matches_fd, assert_matches_fd, fd_gradient
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_lite as al
from autograd_lite.errors import SignatureError
from autograd_lite.tensor import raw

SAMPLES = Samples(7)
RNG, normal = SAMPLES.rng, SAMPLES.normal


# (name, [a, b], settings): scalars, vectors, matrices, stacks and broadcasting pairs.
CASES: list[tuple[str, list[np.ndarray], dict[str, Any]]] = [
    ("dot", [normal(), normal(3, 2)], {}), ("dot", [normal(3), normal()], {}),
    ("dot", [normal(4), normal(4)], {}), ("dot", [normal(3, 4), normal(4)], {}),
    ("dot", [normal(4), normal(4, 2)], {}), ("dot", [normal(3, 4), normal(4, 2)], {}),
    ("dot", [normal(2, 3, 4), normal(5, 4, 2)], {}), ("dot", [normal(2, 3, 4), normal(4)], {}),
    ("inner", [normal(4), normal(4)], {}), ("inner", [normal(3, 4), normal(2, 4)], {}),
    ("inner", [normal(2, 3, 4), normal(4)], {}), ("inner", [normal(), normal(2, 3)], {}),
    ("outer", [normal(3), normal(4)], {}), ("outer", [normal(2, 3), normal(2, 2)], {}),
    ("outer", [normal(), normal(3)], {}),
    ("vdot", [normal(6), normal(6)], {}), ("vdot", [normal(2, 3), normal(3, 2)], {}),
    ("tensordot", [normal(3, 4), normal(3, 4)], {}),
    ("tensordot", [normal(2, 3, 4), normal(3, 4, 5)], {}),
    ("tensordot", [normal(3, 4), normal(4, 5)], {"axes": 1}),
    ("tensordot", [normal(3, 4), normal(2, 5)], {"axes": 0}),
    ("tensordot", [normal(2, 3, 4), normal(4, 2, 3)], {"axes": ([0, 2], [1, 0])}),
    ("tensordot", [normal(2, 3, 4), normal(5, 3)], {"axes": (1, 1)}),
    ("kron", [normal(2, 3), normal(2, 2)], {}), ("kron", [normal(3), normal(2, 2)], {}),
    ("kron", [normal(2, 1, 2), normal(3, 2)], {}), ("kron", [normal(3), normal(4)], {}),
    ("cross", [normal(3), normal(3)], {}), ("cross", [normal(4, 3), normal(3)], {}),
    ("cross", [normal(2, 1, 3), normal(4, 3)], {}),
    ("cross", [normal(3, 4), normal(4, 3)], {"axisa": 0}),
    ("cross", [normal(3, 4), normal(3, 4)], {"axis": 0}),
    ("cross", [normal(3, 2), normal(2, 3)], {"axisa": 0, "axisc": 0}),
]


def _case_id(case: tuple[str, list[np.ndarray], dict[str, Any]]) -> str:
    name, arrays, kwargs = case
    return f"{name}-{'-'.join(str(np.shape(a)) for a in arrays)}-{kwargs}"


def _fn(name: str, kwargs: dict[str, Any]) -> Any:
    return lambda a, b: getattr(al, name)(a, b, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_value_matches_numpy(case: tuple[str, list[np.ndarray], dict[str, Any]]) -> None:
    name, arrays, kwargs = case
    got = getattr(al, name)(*[al.Tensor(a) for a in arrays], **kwargs)
    np.testing.assert_allclose(got.data, getattr(np, name)(*arrays, **kwargs), rtol=1e-13)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_orders_one_and_two_and_float32(case: tuple[str, list[np.ndarray], dict[str, Any]]
                                        ) -> None:
    name, arrays, kwargs = case
    fn = _fn(name, kwargs)
    assert_matches_fd(fn, arrays)
    assert_float32_keeps_dtype(fn, arrays)
    assert_second_order_matches_fd(fn, arrays)  # the cross terms ∂²/∂a∂b
    assert_second_order_matches_fd(lambda a, b: fn(a * a, b) ** 2, arrays)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_jvp_rule(case: tuple[str, list[np.ndarray], dict[str, Any]]) -> None:
    name, arrays, kwargs = case
    assert_jvp_matches_fd(al.get_op(name), arrays, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_numpy_dispatch_gives_the_same_values_and_gradients(
        case: tuple[str, list[np.ndarray], dict[str, Any]]) -> None:
    name, arrays, kwargs = case

    def via_numpy(a: Any, b: Any) -> Any:
        out = getattr(np, name)(a, b, **kwargs)
        assert isinstance(out, al.Tensor), type(out)
        return out

    with al.no_grad():
        shape = _fn(name, kwargs)(*[al.Tensor(a) for a in arrays]).shape
    weights = RNG.standard_normal(shape)
    ours = first_order(_fn(name, kwargs), arrays, weights)
    theirs = first_order(via_numpy, arrays, weights)
    for x, y in zip(ours, theirs):
        np.testing.assert_array_equal(x, y)


def test_tensor_methods_and_operators_through_numpy() -> None:
    a, b = normal(3, 4), normal(4, 2)
    np.testing.assert_array_equal(al.Tensor(a).dot(b).data, a.dot(b))
    assert_matches_fd(lambda x, y: x.dot(y), [a, b])


# ------------------------------------------------------------------------------------ einsum
EINSUM: list[tuple[str, list[tuple[int, ...]]]] = [
    ("ij,jk->ik", [(3, 4), (4, 2)]), ("ij,jk", [(3, 4), (4, 2)]), ("ij->ji", [(3, 4)]),
    ("ij->", [(3, 4)]), ("ij->i", [(3, 4)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]),
    ("iij->j", [(2, 2, 3)]), ("ij,ij->ij", [(2, 3), (2, 3)]), ("i,j->ij", [(3,), (2,)]),
    ("i,i", [(4,), (4,)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]), ("...ij,...jk", [(1, 3, 4), (2, 4, 5)]),
    ("...i,...i->...", [(2, 3, 4), (3, 4)]), ("i...,i...->...", [(3, 2, 1), (3, 1, 4)]),
    ("ij...->...", [(2, 3, 4)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("i,i,i->", [(3,), (3,), (3,)]), ("ba,ab", [(3, 2), (2, 3)]), ("Ab,bc->cA", [(2, 3), (3, 4)]),
    ("ii,ij->j", [(3, 3), (3, 2)]), ("ij,kj,kl->il", [(2, 3), (4, 3), (4, 1)]),
    ("i,->i", [(3,), ()]),
]


@pytest.mark.parametrize(("subscripts", "shapes"), EINSUM,
                         ids=[s for s, _ in EINSUM])
def test_einsum(subscripts: str, shapes: list[tuple[int, ...]]) -> None:
    arrays = [normal(*s) for s in shapes]
    got = al.einsum(subscripts, *[al.Tensor(a) for a in arrays])
    np.testing.assert_allclose(got.data, np.einsum(subscripts, *arrays), rtol=1e-13)
    fn = lambda *xs: al.einsum(subscripts, *xs)
    assert_matches_fd(fn, arrays)
    assert_float32_keeps_dtype(fn, arrays)
    assert_second_order_matches_fd(lambda *xs: fn(*xs) ** 2, arrays)
    via_numpy = np.einsum(subscripts, *[al.Tensor(a) for a in arrays])
    assert isinstance(via_numpy, al.Tensor)
    np.testing.assert_array_equal(via_numpy.data, got.data)
    # the JVP rule, for random tangents on every operand, against central differences
    tangents = [normal(*s) for s in shapes]
    op = al.get_op("einsum")
    rule = raw(op.jvp((None, *tangents), got.data, subscripts, *arrays))
    h = np.finfo(np.float64).eps ** (1 / 3)
    numeric = (np.einsum(subscripts, *[a + h * t for a, t in zip(arrays, tangents)])
               - np.einsum(subscripts, *[a - h * t for a, t in zip(arrays, tangents)])) / (2 * h)
    np.testing.assert_allclose(rule, numeric, rtol=1e-6, atol=1e-8)


def test_einsum_gradient_with_an_integer_operand_is_left_alone() -> None:
    mask = np.array([[1, 0], [0, 1], [1, 1]])
    x = al.Tensor(normal(3, 2), requires_grad=True)
    al.einsum("ij,ij->", x, mask).backward()
    np.testing.assert_array_equal(x.grad, mask)


def test_einsum_large_operands_use_an_optimized_path_with_the_same_gradient() -> None:
    a, b = normal(80, 70), normal(70, 60)
    ga, gb = first_order(lambda x, y: al.einsum("ij,jk->ik", x, y), [a, b], np.ones((80, 60)))
    np.testing.assert_allclose(ga, np.ones((80, 60)) @ b.T, rtol=1e-12)
    np.testing.assert_allclose(gb, a.T @ np.ones((80, 60)), rtol=1e-12)


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda x: al.einsum(x, [0, 1]), SignatureError, "string"),
    (lambda x: al.einsum("ij,jk", x), al.InputValueError, "einsum: .*operands"),
    (lambda x: al.einsum("ij->i1", x), al.InputValueError, "letters"),
    (lambda x: al.einsum("ijk", x), al.InputValueError, "einsum: .*subscripts"),
    (lambda x: al.einsum("ij->ii", x), al.InputValueError, "einsum"),
    (lambda x: al.cross(x, x), al.ShapeError, "3 components"),
    (lambda x: al.vdot(x, x[:1]), al.ShapeError, "same number"),
    (lambda x: al.tensordot(x, x, axes=([0, 1], [0])), al.InputValueError, "tensordot"),
    (lambda x: al.dot(x, x), al.InputValueError, "dot"),
])
def test_refusals(call: Any, error: type, words: str) -> None:
    x = al.Tensor(normal(2, 4), requires_grad=True)
    with pytest.raises(error, match=words):
        call(x)


# ------------------------------------------------------------------------------ hypothesis
@settings(max_examples=30, deadline=None)
@given(dims=st.lists(st.integers(1, 4), min_size=4, max_size=4), seed=st.integers(0, 2**16))
def test_hypothesis_batched_matrix_product_by_einsum_and_tensordot(dims: list[int],
                                                                    seed: int) -> None:
    """Random sizes: einsum('bij,bjk->bik'), tensordot and dot agree with NumPy, and their
    gradients with the closed form (G Bᵀ, Aᵀ G) and central differences."""
    b, i, j, k = dims
    rng = np.random.default_rng(seed)
    x, y, g = rng.standard_normal((b, i, j)), rng.standard_normal((b, j, k)), \
        rng.standard_normal((b, i, k))
    gx, gy = first_order(lambda p, q: al.einsum("bij,bjk->bik", p, q), [x, y], g)
    np.testing.assert_allclose(gx, g @ y.transpose(0, 2, 1), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gy, x.transpose(0, 2, 1) @ g, rtol=1e-10, atol=1e-12)
    fn = lambda p, q: al.tensordot(p, q, axes=([0, 2], [0, 1]))
    np.testing.assert_allclose(fn(al.Tensor(x), al.Tensor(y)).data,
                               np.tensordot(x, y, axes=([0, 2], [0, 1])), rtol=1e-12)
    assert_matches_fd(fn, [x, y], seed=seed)
    assert_matches_fd(lambda p, q: al.dot(p, q), [x, y[0]], seed=seed)


def test_gradient_of_kron_against_its_block_definition() -> None:
    """d/da Σ w ∘ kron(a, b): block (i, j) of w paired with b, summed (an independent closed
    form)."""
    a, b = normal(2, 3), normal(4, 2)
    w = normal(8, 6)
    ga, gb = first_order(lambda x, y: al.kron(x, y), [a, b], w)
    blocks = w.reshape(2, 4, 3, 2)
    np.testing.assert_allclose(ga, np.einsum("ikjl,kl->ij", blocks, b), rtol=1e-12)
    np.testing.assert_allclose(gb, np.einsum("ikjl,ij->kl", blocks, a), rtol=1e-12)
    numeric = fd_gradient(lambda x: float(np.sum(w * np.kron(x, b))), [a], 0)
    np.testing.assert_allclose(ga, numeric, rtol=1e-6)
