"""NumPy code on Tensors records itself: each family through np.* (and ndarray operators) gives
the same values and gradients as the autograd_lite ops, checked against central differences;
what cannot be recorded is refused with an error naming the NumPy function."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sc
from helpers import Samples, assert_matches_fd

import autograd_lite as al

samples = Samples(7)
rng = samples.rng
normal, positive = samples.normal, samples.positive
away_from_zero, distinct = samples.away_from_zero, samples.distinct


# (NumPy call, the autograd_lite call it must equal, input arrays)
PAIRS = [
    ("exp", lambda x: np.exp(x), lambda x: al.exp(x), [normal(3, 4)]),
    ("sin", lambda x: np.sin(x), lambda x: al.sin(x), [normal(3, 4)]),
    ("log1p", lambda x: np.log1p(x), lambda x: al.log1p(x), [positive(5)]),
    ("add ndarray", lambda x: np.ones((2, 3)) + x, lambda x: al.add(np.ones((2, 3)), x),
     [normal(3)]),
    ("np.add", lambda x, y: np.add(x, y), lambda x, y: x + y, [normal(2, 3), normal(3)]),
    ("multiply", lambda x, y: np.multiply(x, y), al.mul, [normal(3, 1), normal(4)]),
    ("subtract", lambda x, y: np.subtract(x, y), al.sub, [normal(3), normal(3)]),
    ("divide", lambda x, y: np.divide(x, y), al.div, [normal(3), positive(3)]),
    ("true_divide ndarray", lambda y: np.arange(1.0, 4.0) / y,
     lambda y: al.div(np.arange(1.0, 4.0), y), [positive(3)]),
    ("negative", lambda x: np.negative(x), al.neg, [normal(3)]),
    ("power", lambda x: np.power(x, 3), lambda x: x ** 3, [normal(3)]),
    ("power rhs", lambda x: np.float64(2.0) ** x, lambda x: 2.0 ** x, [normal(3)]),
    ("absolute", lambda x: np.absolute(x), al.abs, [positive(3) * np.array([1, -1, 1])]),
    ("matmul", lambda x: x @ np.eye(3) * 2.0, lambda x: al.matmul(x, 2.0 * np.eye(3)),
     [normal(2, 3)]),
    ("rmatmul", lambda x: np.arange(6.0).reshape(2, 3) @ x,
     lambda x: al.matmul(np.arange(6.0).reshape(2, 3), x), [normal(3, 2)]),
    ("np.matmul", lambda x, y: np.matmul(x, y), al.matmul, [normal(2, 3), normal(3, 4)]),
    ("maximum", lambda x, y: np.maximum(x, y), al.maximum, [distinct(3, 4), distinct(4)]),
    ("sum axis", lambda x: np.sum(x, axis=0), lambda x: al.sum(x, axis=0), [normal(3, 4)]),
    ("sum positional", lambda x: np.sum(x, 1, None, None, True),
     lambda x: al.sum(x, axis=1, keepdims=True), [normal(3, 4)]),
    ("mean", lambda x: np.mean(x), al.mean, [normal(3, 4)]),
    ("max", lambda x: np.max(x, axis=1), lambda x: al.max(x, axis=1), [distinct(3, 4)]),
    ("amin", lambda x: np.amin(x, 0, keepdims=True), lambda x: al.min(x, 0, keepdims=True),
     [distinct(3, 4)]),
    ("prod", lambda x: np.prod(x, axis=-1), lambda x: al.prod(x, axis=-1), [normal(2, 3)]),
    ("var", lambda x: np.var(x, 0, None, None, 1), lambda x: al.var(x, axis=0, ddof=1),
     [normal(4, 3)]),
    ("std", lambda x: np.std(x, ddof=1), lambda x: al.std(x, ddof=1), [normal(4, 3)]),
    ("cumsum", lambda x: np.cumsum(x, axis=1), lambda x: al.cumsum(x, axis=1), [normal(3, 4)]),
    ("cumprod", lambda x: np.cumprod(x), lambda x: al.cumprod(x), [normal(2, 3)]),
    ("diff", lambda x: np.diff(x, 2, 0), lambda x: al.diff(x, n=2, axis=0), [normal(5, 2)]),
    ("trace", lambda x: np.trace(x), lambda x: al.trace(x), [normal(3, 3)]),
    ("average", lambda x, w: np.average(x, 0, w), lambda x, w: al.average(x, 0, w),
     [normal(3, 2), positive(3)]),
    ("clip", lambda x: np.clip(x, -0.5, 0.5), lambda x: al.clip(x, -0.5, 0.5),
     [np.array([-1.2, -0.3, 0.1, 0.4, 0.9])]),
    ("clip min= max=", lambda x: np.clip(x, min=-0.5, max=0.5), lambda x: al.clip(x, -0.5, 0.5),
     [np.array([-1.2, -0.3, 0.1, 0.4, 0.9])]),
    ("clip max=", lambda x: np.clip(x, max=0.5), lambda x: al.clip(x, None, 0.5),
     [np.array([-1.2, -0.3, 0.1, 0.4, 0.9])]),
    ("std correction=", lambda x: np.std(x, axis=0, correction=1),
     lambda x: al.std(x, axis=0, ddof=1), [normal(4, 3)]),
    ("where", lambda x, y: np.where(x > 0, x, y), lambda x, y: al.where(x > 0, x, y),
     [normal(3, 4), normal(4)]),
    ("stack", lambda x, y: np.stack([x, y], axis=1), lambda x, y: al.stack([x, y], axis=1),
     [normal(3), normal(3)]),
    ("concatenate", lambda x, y: np.concatenate((x, y)), lambda x, y: al.concatenate((x, y)),
     [normal(2, 3), normal(1, 3)]),
    ("transpose", lambda x: np.transpose(x, (1, 0)), lambda x: al.transpose(x, axes=(1, 0)),
     [normal(2, 3)]),
    ("reshape", lambda x: np.reshape(x, (3, 2)), lambda x: al.reshape(x, shape=(3, 2)),
     [normal(2, 3)]),
    ("add.reduce", lambda x: np.add.reduce(x), lambda x: al.sum(x, axis=0), [normal(3, 4)]),
    ("maximum.reduce", lambda x: np.maximum.reduce(x, axis=1, keepdims=True),
     lambda x: al.max(x, axis=1, keepdims=True), [distinct(3, 4)]),
    ("multiply.reduce", lambda x: np.multiply.reduce(x, axis=None),
     lambda x: al.prod(x), [normal(2, 3)]),
    ("logaddexp.reduce", lambda x: np.logaddexp.reduce(x, axis=1),
     lambda x: al.logsumexp(x, axis=1), [normal(2, 3)]),
    ("add.accumulate", lambda x: np.add.accumulate(x), lambda x: al.cumsum(x, axis=0),
     [normal(3, 2)]),
    ("multiply.outer", lambda x, y: np.multiply.outer(x, y),
     lambda x, y: al.reshape(x, shape=(3, 1)) * y, [normal(3), normal(4)]),
    ("subtract.outer", lambda x, y: np.subtract.outer(x, y),
     lambda x, y: al.reshape(x, shape=(2, 3, 1)) - y, [normal(2, 3), normal(4)]),
    ("sinc", lambda x: np.sinc(x), al.sinc, [normal(4)]),
    ("nan_to_num", lambda x: np.nan_to_num(x, nan=1.0), lambda x: al.nan_to_num(x, nan=1.0),
     [normal(4)]),
    ("round", lambda x: np.round(x, 1) + x, lambda x: al.round(x, 1) + x, [normal(4)]),
    ("around", lambda x: np.around(x) * x, lambda x: al.round(x) * x, [normal(4)]),
    ("astype", lambda x: np.astype(x, np.float64) * 2.0, lambda x: al.astype(x, np.float64) * 2.0,
     [normal(3)]),
    ("scipy erf", lambda x: sc.erf(x), lambda x: al.special.erf(x), [normal(4)]),
    ("scipy expit", lambda x: sc.expit(x), al.sigmoid, [normal(4)]),
    ("scipy gammaln", lambda x: sc.gammaln(x), lambda x: al.special.gammaln(x), [positive(4)]),
]


@pytest.mark.parametrize(("name", "numpy_fn", "al_fn", "arrays"), PAIRS, ids=[p[0] for p in PAIRS])
def test_numpy_call_records_the_same_op_as_autograd_lite(name, numpy_fn, al_fn, arrays) -> None:
    tensors = [al.Tensor(a, requires_grad=True) for a in arrays]
    out = numpy_fn(*tensors)
    assert isinstance(out, al.Tensor) and out.requires_grad, type(out)
    expected = al_fn(*[al.Tensor(a) for a in arrays])
    np.testing.assert_allclose(out.data, expected.data, rtol=1e-12, atol=1e-14)
    # the NumPy function on plain arrays agrees too (the op has NumPy's semantics)
    np.testing.assert_allclose(out.data, numpy_fn(*arrays), rtol=1e-12, atol=1e-14)
    assert_matches_fd(numpy_fn, arrays)
    assert_matches_fd(al_fn, arrays)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_stays_float32_through_numpy_calls(dtype) -> None:
    x = al.Tensor(normal(3, 4).astype(dtype), requires_grad=True)
    out = np.sum(np.exp(np.sin(x)) * np.ones((3, 4), dtype), axis=0)
    assert out.dtype == dtype
    np.mean(out).backward()
    assert x.grad.dtype == dtype


def test_second_order_through_numpy_calls() -> None:
    """d²/dx² of Σ sin(x)·x² written with NumPy functions equals 2cos x·… in closed form."""
    x0 = normal(5)
    x = al.Tensor(x0, requires_grad=True)
    (g,) = al.grad(np.sum(np.sin(x) * np.square(x)), x, create_graph=True)
    np.testing.assert_allclose(g.data, np.cos(x0) * x0 ** 2 + 2 * x0 * np.sin(x0), rtol=1e-12)
    (h,) = al.grad(np.sum(g), x)
    expected = -np.sin(x0) * x0 ** 2 + 4 * x0 * np.cos(x0) + 2 * np.sin(x0)
    np.testing.assert_allclose(h, expected, rtol=1e-10)


def test_comparisons_and_index_functions_give_constants() -> None:
    x = al.Tensor(np.array([3.0, -1.0, 2.0]), requires_grad=True)
    mask = np.array([0.0, 0.0, 5.0]) < x
    assert isinstance(mask, al.Tensor) and mask.dtype == bool and not mask.requires_grad
    np.testing.assert_array_equal(mask.data, [True, False, False])
    assert np.argmax(x) == 0 and np.shape(x) == (3,) and np.ndim(x) == 1
    assert isinstance(np.isnan(x), al.Tensor) and not np.isnan(x).data.any()
    np.testing.assert_array_equal(np.zeros_like(x), np.zeros(3))


@pytest.mark.parametrize("call", [
    lambda x: np.median(x),
    lambda x: np.nansum(x),
    lambda x: np.floor_divide(x, 2.0),
    lambda x: np.maximum.accumulate(x),
    lambda x: np.add.at(x, [0], 1.0),
    lambda x: np.fft.fft(x),
    lambda x: np.real(x),
    lambda x: np.frexp(x),
    lambda x: np.linalg.matrix_rank(al.reshape(x, shape=(1, 3))),
    lambda x: np.emath.sqrt(x),
], ids=["median", "nansum", "floor_divide", "maximum.accumulate", "add.at", "fft", "real",
        "frexp", "matrix_rank", "emath.sqrt"])
def test_numpy_functions_without_a_rule_are_refused_by_name(call) -> None:
    x = al.Tensor(normal(3), requires_grad=True)
    with pytest.raises(al.UnsupportedFunctionError, match=r"np\.") as info:
        call(x)
    assert "gradient" in str(info.value) or "out of scope" in str(info.value)


def test_refusals_name_the_function_and_the_replacement() -> None:
    x = al.Tensor(normal(3), requires_grad=True)
    with pytest.raises(al.UnsupportedFunctionError, match=r"np\.nansum.*al\.sum"):
        np.nansum(x)
    with pytest.raises(al.UnsupportedFunctionError, match="complex"):
        np.fft.fft(x)


@pytest.mark.parametrize("call", [
    lambda x: np.exp(x, out=np.zeros(3)),
    lambda x: np.add(x, 1.0, where=np.array([True, False, True])),
    lambda x: np.exp(x, dtype=np.float32),
    lambda x: np.add(x, 1, casting="unsafe"),
], ids=["out", "where", "dtype", "casting"])
def test_ufunc_options_are_refused(call) -> None:
    x = al.Tensor(normal(3), requires_grad=True)
    with pytest.raises(al.AutogradLiteError, match="cannot be recorded"):
        call(x)


def test_augmented_assignment_into_an_ndarray_is_refused() -> None:
    a = np.ones(3)
    with pytest.raises(al.AutogradLiteError, match="out="):
        a += al.Tensor(normal(3), requires_grad=True)


def test_numpy_function_options_are_refused_or_bound_as_numpy_does() -> None:
    x = al.Tensor(normal(3, 4), requires_grad=True)
    with pytest.raises(al.AutogradLiteError, match="dtype"):
        np.sum(x, dtype=np.float32)
    with pytest.raises(al.AutogradLiteError, match=r"np\.sum"):
        np.sum(x, axis=0, initial=1.0)
    # out=None and dtype=None are NumPy's defaults: accepted
    np.testing.assert_allclose(np.sum(x, 0, None, None).data, x.data.sum(0))


# ------------------------------------------------------------- every family, generically by name
def _numpy_named(family: str, inputs: int) -> list[str]:
    """The ops of a family that NumPy has under the same name, taking ``inputs`` arrays."""
    names = []
    for name in al.list_ops(family):
        fn = getattr(np, name, None)
        ufunc = isinstance(fn, np.ufunc) and fn.nin == inputs and fn.nout == 1
        if ufunc or (inputs == 1 and name == "round"):  # (np.round is a function)
            names.append(name)
    return names


def _values(name: str, shape: tuple, seed: int) -> np.ndarray:
    r = np.random.default_rng(seed)
    if name == "arccosh":
        return r.uniform(1.2, 2.0, shape)
    return r.uniform(0.1, 0.4, shape)  # inside every domain, away from every jump and kink


def _same_values_and_gradients(numpy_fn, al_fn, arrays) -> None:
    via_numpy = [al.Tensor(a, requires_grad=True) for a in arrays]
    direct = [al.Tensor(a, requires_grad=True) for a in arrays]
    out, expected = numpy_fn(*via_numpy), al_fn(*direct)
    assert isinstance(out, al.Tensor) and out.node.op is expected.node.op
    np.testing.assert_array_equal(out.data, expected.data)
    seed = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(seed)
    expected.backward(seed)
    for a, b in zip(via_numpy, direct):
        np.testing.assert_array_equal(a.grad, b.grad)
    assert_matches_fd(numpy_fn, arrays)


@pytest.mark.parametrize("name", _numpy_named("element-wise", 1))
def test_every_unary_elementwise_op_through_numpy(name: str) -> None:
    assert len(_numpy_named("element-wise", 1)) >= 30
    _same_values_and_gradients(getattr(np, name), getattr(al, name), [_values(name, (3, 4), 0)])


@pytest.mark.parametrize("name", _numpy_named("element-wise", 2) + _numpy_named("arithmetic", 2))
def test_every_binary_op_through_numpy(name: str) -> None:
    x = _values(name, (3, 4), 1)
    y = _values(name, (4,), 2) + 0.5  # (no ties with x)
    _same_values_and_gradients(getattr(np, name), getattr(al, name), [x, y])


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)], ids=str)
@pytest.mark.parametrize("name", ["sum", "mean", "prod", "var", "std", "max", "min", "amax",
                                  "amin"])
def test_reductions_through_numpy(name: str, axis, keepdims: bool) -> None:
    x = distinct(2, 3, 4) * 0.1 + 1.0
    _same_values_and_gradients(lambda t: getattr(np, name)(t, axis=axis, keepdims=keepdims),
                               lambda t: getattr(al, name)(t, axis=axis, keepdims=keepdims), [x])


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@pytest.mark.parametrize("axis", [None, 0, 1], ids=str)
def test_scans_through_numpy(name: str, axis) -> None:
    _same_values_and_gradients(lambda t: getattr(np, name)(t, axis),
                               lambda t: getattr(al, name)(t, axis=axis), [normal(3, 4)])


def test_numpy_functions_inside_a_vjp_rule_work_under_create_graph() -> None:
    """A user op whose VJP is written with NumPy functions is differentiable again."""
    cube = al.register_op("cube_np_rule", lambda x: x ** 3,
                          (lambda g, out, x: g * 3.0 * np.square(x),))
    x0 = normal(4)
    x = al.Tensor(x0, requires_grad=True)
    (g,) = al.grad(np.sum(cube(x)), x, create_graph=True)
    (h,) = al.grad(np.sum(g), x)
    np.testing.assert_allclose(h, 6.0 * x0, rtol=1e-14)


def test_floor_division_and_divmod_are_refused_with_a_hint() -> None:
    """NumPy's // on floats is not ⌊x/y⌋ in every case (1 // 0.1 is 9), so it is refused."""
    x = al.Tensor(normal(3), requires_grad=True)
    for call in (lambda: x // 2.0, lambda: 2.0 // x, lambda: divmod(x, 2.0),
                 lambda: np.ones(3) // x):
        with pytest.raises(al.UnsupportedFunctionError, match=r"al\.floor"):
            call()
