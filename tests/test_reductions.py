"""Reductions and scans (autograd_lite/reductions.py): values against NumPy and gradients against
central differences over every axis/keepdims combination, orders 1 and 2, float32 and float64,
JVP rules, zeros in products, degenerate spreads and hypothesis-drawn shapes."""

from __future__ import annotations

import numpy as np
import pytest
from gradient_checks import assert_second_order_matches_fd
from helpers import assert_jvp_matches_fd, assert_matches_fd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd_lite as al

rng = np.random.default_rng(11)
X3 = rng.uniform(0.5, 1.5, (2, 3, 4)) * rng.choice([-1.0, 1.0], (2, 3, 4))
AXES = [None, 0, 1, -1, (0, 2)]
REDUCTIONS = {"prod": {}, "var": {}, "std": {}, "var_ddof1": {"ddof": 1},
              "std_ddof1": {"ddof": 1}}


def reduction(name: str):
    return getattr(al, name.split("_")[0]), REDUCTIONS[name]


def test_every_reduction_op_has_cases() -> None:
    mine = {n for n in al.list_ops("reductions") if getattr(al.ops, n, None) is not al.get_op(n)}
    assert mine == {"prod", "var", "std", "cumsum", "cumprod", "diff", "trace"}, mine


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction_values_and_first_order(name: str, axis, keepdims: bool, dtype: type) -> None:
    op, extra = reduction(name)
    x = X3.astype(dtype)
    out = op(al.Tensor(x), axis=axis, keepdims=keepdims, **extra)
    assert out.dtype == dtype
    expected = getattr(np, name.split("_")[0])(x.astype(np.float64), axis=axis,
                                               keepdims=keepdims, **extra)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12 if dtype == np.float64 else 1e-5)
    assert_matches_fd(lambda t: op(t, axis=axis, keepdims=keepdims, **extra), [x])


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction_second_order_and_jvp(name: str, axis, keepdims: bool) -> None:
    op, extra = reduction(name)
    assert_second_order_matches_fd(lambda t: op(t, axis=axis, keepdims=keepdims, **extra), [X3])
    assert_jvp_matches_fd(op, [X3], axis=axis, keepdims=keepdims, **extra)


@pytest.mark.parametrize("shape", [(), (5,), (3, 4)], ids=str)
@pytest.mark.parametrize("name", ["prod", "var", "std"])
def test_reductions_over_scalars_vectors_matrices(name: str, shape: tuple) -> None:
    x = rng.uniform(0.5, 1.5, shape) + np.arange(int(np.prod(shape))).reshape(shape) * 0.1
    if name != "prod" and shape == ():
        x = np.array(1.3)  # var of one element is 0 and its std has the kink: see below
        np.testing.assert_allclose(getattr(al, name)(al.Tensor(x)).item(), 0.0)
        return
    assert_matches_fd(getattr(al, name), [x])
    assert_second_order_matches_fd(getattr(al, name), [x])


# ------------------------------------------------------------------------------ zeros in prod
@pytest.mark.parametrize("zeros", [[(0, 1)], [(0, 1), (0, 3)], [(0, 0), (1, 2)]], ids=str)
@pytest.mark.parametrize("axis", [None, 0, 1], ids=str)
def test_prod_is_exact_at_zeros(zeros: list, axis) -> None:
    """∂Πx/∂x_i = Π_{j≠i} x_j: nonzero for the zero itself when it is the only one."""
    x = rng.uniform(0.5, 1.5, (2, 4))
    for index in zeros:
        x[index] = 0.0
    t = al.Tensor(x, requires_grad=True)
    al.prod(t, axis=axis).sum().backward()
    groups = x.reshape(1, -1) if axis is None else np.moveaxis(x, axis, -1)
    expected = np.empty_like(groups)
    for g in np.ndindex(*groups.shape[:-1]):
        for i in range(groups.shape[-1]):
            expected[(*g, i)] = np.prod(np.delete(groups[g], i))
    expected = expected.reshape(x.shape) if axis is None else np.moveaxis(expected, -1, axis)
    np.testing.assert_allclose(t.grad, expected, rtol=1e-14)
    assert_matches_fd(lambda u: al.prod(u, axis=axis), [x])
    assert_second_order_matches_fd(lambda u: al.prod(u, axis=axis), [x])
    assert_jvp_matches_fd(al.prod, [x], axis=axis)


# ------------------------------------------------------------------------------ var and std
def test_std_at_zero_spread_has_gradient_zero() -> None:
    x = al.Tensor(np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]]), requires_grad=True)
    out = al.std(x, axis=1)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad[0], [0.0, 0.0, 0.0])
    centered = x.data[1] - x.data[1].mean()
    np.testing.assert_allclose(x.grad[1], centered / (3 * out.data[1]), rtol=1e-14)


def test_var_gradient_closed_form() -> None:
    """∂var/∂x = 2(x − x̄)/(n − ddof)."""
    x0 = rng.standard_normal(6)
    x = al.Tensor(x0, requires_grad=True)
    al.var(x, ddof=1).backward()
    np.testing.assert_allclose(x.grad, 2 * (x0 - x0.mean()) / 5, rtol=1e-13)


def test_var_positions_follow_numpy() -> None:
    """var(a, axis, dtype, out, ddof, keepdims): ddof is the fifth positional argument."""
    x = X3[0]
    np.testing.assert_allclose(al.var(al.Tensor(x), 0, None, None, 1).data, np.var(x, 0, ddof=1))
    with pytest.raises(al.AutogradLiteError, match="dtype"):
        al.var(al.Tensor(x), 0, np.float32)


@pytest.mark.parametrize("name", ["var", "std"])
def test_too_few_degrees_of_freedom_are_refused(name: str) -> None:
    with pytest.raises(al.InputValueError, match="degrees of freedom"):
        getattr(al, name)(al.Tensor(np.ones((3, 2))), axis=1, ddof=2)


# ------------------------------------------------------------------------------ scans
SCAN_AXES = [None, 0, 1, -1]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("axis", SCAN_AXES, ids=str)
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_scans(name: str, axis, dtype: type) -> None:
    x = X3.astype(dtype)
    out = getattr(al, name)(al.Tensor(x), axis=axis)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.data, getattr(np, name)(x, axis=axis), rtol=1e-6)
    assert_matches_fd(lambda t: getattr(al, name)(t, axis=axis), [x])
    if dtype == np.float64:
        assert_second_order_matches_fd(lambda t: getattr(al, name)(t, axis=axis), [x])
        assert_jvp_matches_fd(al.get_op(name), [x], axis=axis)


def test_cumsum_gradient_sums_from_the_end_without_cancellation() -> None:
    """The VJP of cumsum is Σ_{k≥i} g_k; with a huge first g it is still exact for the rest
    (total − running sum would lose the small terms to rounding)."""
    g = np.array([1e16, 1.0, 1.0, 3.0])
    x = al.Tensor(np.zeros(4), requires_grad=True)
    al.cumsum(x).backward(g)
    np.testing.assert_array_equal(x.grad, [1e16 + 5.0, 5.0, 4.0, 3.0])


def test_prod_gradient_when_the_product_underflows() -> None:
    """Π x underflows to 0 though no x is 0: the gradient is still the product of the others."""
    x = al.Tensor(np.array([1e-200, 1e-200, 3.0]), requires_grad=True)
    al.prod(x).backward()
    np.testing.assert_allclose(x.grad, [3e-200, 3e-200, 0.0], rtol=1e-14)


@pytest.mark.parametrize("axis", [None, 0, 1], ids=str)
def test_cumprod_is_exact_at_zeros(axis) -> None:
    x = rng.uniform(0.5, 1.5, (3, 4))
    x[1, 1] = 0.0
    x[2, 0] = x[2, 3] = 0.0
    assert_matches_fd(lambda t: al.cumprod(t, axis=axis), [x])
    assert_second_order_matches_fd(lambda t: al.cumprod(t, axis=axis), [x])
    assert_jvp_matches_fd(al.cumprod, [x], axis=axis)


@pytest.mark.parametrize("n", [0, 1, 2, 3])
@pytest.mark.parametrize("axis", [0, -1, 1], ids=str)
def test_diff(n: int, axis: int) -> None:
    x = X3[:, :, :]
    out = al.diff(al.Tensor(x), n=n, axis=axis)
    np.testing.assert_allclose(out.data, np.diff(x, n=n, axis=axis))
    if out.size:
        assert_matches_fd(lambda t: al.diff(t, n, axis), [x])
        assert_second_order_matches_fd(lambda t: al.diff(t, n, axis) ** 2, [x])
        assert_jvp_matches_fd(al.diff, [x], n=n, axis=axis)


def test_diff_refuses_prepend() -> None:
    with pytest.raises(al.AutogradLiteError, match="prepend"):
        al.diff(al.Tensor(np.ones(3)), prepend=0.0)


@pytest.mark.parametrize(("shape", "offset", "axes"), [
    ((4, 4), 0, (0, 1)), ((3, 5), 1, (0, 1)), ((5, 3), -2, (0, 1)), ((2, 3, 3), 0, (1, 2)),
    ((3, 2, 3), 1, (2, 0)), ((2, 3, 4), -1, (-1, 1)),
], ids=str)
def test_trace(shape: tuple, offset: int, axes: tuple) -> None:
    x = rng.standard_normal(shape)
    out = al.trace(al.Tensor(x), offset, *axes)
    np.testing.assert_allclose(out.data, np.trace(x, offset, *axes), rtol=1e-13)
    assert_matches_fd(lambda t: al.trace(t, offset, *axes), [x])
    assert_second_order_matches_fd(lambda t: al.trace(t * t, offset, *axes), [x])
    assert_jvp_matches_fd(al.trace, [x], offset=offset, axis1=axes[0], axis2=axes[1])


def test_trace_gradient_is_the_identity() -> None:
    x = al.Tensor(rng.standard_normal((3, 3)), requires_grad=True)
    al.trace(x).backward()
    np.testing.assert_array_equal(x.grad, np.eye(3))


# ------------------------------------------------------------------------------ average
@pytest.mark.parametrize(("axis", "weights_shape"), [(None, None), (0, None), (None, (3, 4)),
                                                      (1, (4,)), (0, (3,)), (-1, (3, 4))],
                         ids=str)
def test_average(axis, weights_shape) -> None:
    x = rng.standard_normal((3, 4))
    if weights_shape is None:
        np.testing.assert_allclose(al.average(al.Tensor(x), axis).data, np.average(x, axis))
        assert_matches_fd(lambda t: al.average(t, axis), [x])
        return
    w = rng.uniform(0.5, 2.0, weights_shape)
    np.testing.assert_allclose(al.average(al.Tensor(x), axis, al.Tensor(w)).data,
                               np.average(x, axis, w), rtol=1e-13)
    assert_matches_fd(lambda t, v: al.average(t, axis, v), [x, w])
    assert_second_order_matches_fd(lambda t, v: al.average(t, axis, v), [x, w])


def test_average_returned_and_keepdims() -> None:
    x, w = rng.standard_normal((3, 4)), rng.uniform(0.5, 2.0, (4,))
    avg, total = al.average(al.Tensor(x), 1, w, returned=True, keepdims=True)
    expected_avg, expected_total = np.average(x, 1, w, returned=True, keepdims=True)
    np.testing.assert_allclose(avg.data, expected_avg, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(al.tensor.raw(total)), expected_total)
    with pytest.raises(al.InputValueError, match="sum to zero"):
        al.average(al.Tensor(x), 1, np.zeros(4))


def test_amax_amin_are_max_min_and_ties_share() -> None:
    assert al.amax is al.max and al.amin is al.min
    x = al.Tensor(np.array([1.0, 3.0, 3.0, 2.0]), requires_grad=True)
    al.amax(x).backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5, 0.5, 0.0])


def test_tensor_methods_match_the_functions() -> None:
    x = al.Tensor(X3)
    pairs = [(x.prod(1), al.prod(x, 1)), (x.var(0, 1), al.var(x, 0, ddof=1)),
             (x.std(keepdims=True), al.std(x, keepdims=True)), (x.cumsum(2), al.cumsum(x, 2)),
             (x.cumprod(), al.cumprod(x)), (x.min(1), al.min(x, 1)),
             (x.trace(0, 1, 2), al.trace(x, 0, 1, 2)), (x.clip(-0.7, 0.7), al.clip(x, -0.7, 0.7)),
             (x.round(1), al.round(x, 1)), (x % 0.3, al.remainder(x, 0.3)), (abs(x), al.abs(x))]
    for method, function in pairs:
        np.testing.assert_array_equal(method.data, function.data)
        assert method.node is None or method.node.op is function.node.op


# ------------------------------------------------------------------------------ hypothesis
@st.composite
def arrays_and_axes(draw: st.DrawFn):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
    axis = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    seed = draw(st.integers(0, 2**16))
    return np.random.default_rng(seed).uniform(0.5, 1.5, shape), axis, draw(st.booleans()), seed


@settings(max_examples=25, deadline=None)
@given(case=arrays_and_axes(), name=st.sampled_from(["prod", "var", "std", "cumsum", "cumprod"]))
def test_any_shape_and_axis(case, name: str) -> None:
    x, axis, keepdims, seed = case
    op = getattr(al, name)
    if name in ("var", "std") and (x.size if axis is None else x.shape[axis]) < 2:
        return  # (one element: zero spread, the kink of std; tested above)
    settings_ = {"axis": axis} if name.startswith("cum") else {"axis": axis, "keepdims": keepdims}
    assert_matches_fd(lambda t: op(t, **settings_), [x], seed=seed)


@pytest.mark.parametrize("shape", [(), (1,), (5,)], ids=str)
@pytest.mark.parametrize("name", ["cumsum", "cumprod", "prod", "diff"])
def test_scans_over_scalars_and_vectors(name: str, shape: tuple) -> None:
    x = rng.uniform(0.5, 1.5, shape) * np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    op = getattr(al, name)
    if name == "diff" and shape == ():  # (NumPy refuses it too)
        with pytest.raises(al.InputValueError, match="at least one dimensional"):
            op(al.Tensor(x))
        return
    np.testing.assert_allclose(op(al.Tensor(x)).data, getattr(np, name)(x), rtol=1e-14)
    assert_matches_fd(op, [x])
    assert_second_order_matches_fd(op, [x])
