"""Every registered op: the tape's gradient against independent central differences, over
scalars, vectors, matrices and broadcasting pairs, in float64 and float32."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import Samples, assert_matches_fd
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd_lite as al

samples = Samples(0)
rng = samples.rng
normal, positive = samples.normal, samples.positive
away_from_zero, distinct = samples.away_from_zero, samples.distinct


BROADCAST_PAIRS = [((), ()), ((3,), (3,)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)),
                   ((), (2, 3)), ((4,), (3, 1))]

# op name -> list of (function of tensors, input arrays)
CASES: dict[str, list[tuple]] = {
    "add": [(lambda x, y: x + y, [normal(*a), normal(*b)]) for a, b in BROADCAST_PAIRS],
    "sub": [(lambda x, y: x - y, [normal(*a), normal(*b)]) for a, b in BROADCAST_PAIRS],
    "mul": [(lambda x, y: x * y, [normal(*a), normal(*b)]) for a, b in BROADCAST_PAIRS],
    "div": [(lambda x, y: x / y, [normal(*a), positive(*b)]) for a, b in BROADCAST_PAIRS],
    "neg": [(lambda x: -x, [normal(3, 4)]), (lambda x: al.neg(x), [normal()])],
    "pow": [(lambda x, y: x ** y, [positive(3, 4), normal(4)]),
            (lambda x: x ** 3, [normal(5)]), (lambda x: x ** 2.5, [positive(2, 3)]),
            (lambda x: 2.0 ** x, [normal(3)]), (lambda x: x ** 0, [normal(3)])],
    "exp": [(al.exp, [normal()]), (al.exp, [normal(3, 4)])],
    "log": [(al.log, [positive(3)]), (al.log, [positive(2, 3)])],
    "sqrt": [(al.sqrt, [positive(3, 4)])],
    "abs": [(al.abs, [away_from_zero(3, 4)])],
    "sigmoid": [(al.sigmoid, [normal()]), (al.sigmoid, [normal(3, 4) * 3])],
    "tanh": [(al.tanh, [normal(3, 4)])],
    "relu": [(al.relu, [away_from_zero(3, 4)])],
    "astype": [(lambda x: al.astype(x, dtype=np.float64) * 1.5, [normal(3)])],
    "sum": [(al.sum, [normal(3, 4)]), (lambda x: x.sum(axis=0), [normal(3, 4)]),
            (lambda x: x.sum(axis=(0, 2), keepdims=True), [normal(2, 3, 4)]),
            (lambda x: x.sum(axis=-1), [normal(2, 3, 4)]), (al.sum, [normal()])],
    "mean": [(al.mean, [normal(3, 4)]), (lambda x: x.mean(axis=1, keepdims=True), [normal(3, 4)]),
             (lambda x: x.mean(axis=(0, 1)), [normal(2, 3, 4)])],
    "max": [(al.max, [distinct(3, 4)]), (lambda x: x.max(axis=0), [distinct(3, 4)]),
            (lambda x: x.max(axis=-1, keepdims=True), [distinct(2, 3, 4)])],
    "min": [(lambda x: al.min(x, axis=1), [distinct(3, 4)]), (al.min, [distinct(5)])],
    "logsumexp": [(al.logsumexp, [normal(3, 4)]),
                  (lambda x: al.logsumexp(x, axis=1), [normal(3, 4) * 10])],
    "reshape": [(lambda x: x.reshape(4, 3), [normal(3, 4)]),
                (lambda x: x.reshape(-1), [normal(2, 3, 4)])],
    "transpose": [(lambda x: x.T, [normal(3, 4)]),
                  (lambda x: x.transpose(1, 2, 0), [normal(2, 3, 4)])],
    "broadcast_to": [(lambda x: al.broadcast_to(x, shape=(2, 3, 4)), [normal(3, 1)])],
    "getitem": [(lambda x: x[1:, ::2], [normal(3, 4)]),
                (lambda x: x[np.array([0, 2, 0, 0])], [normal(3, 4)]),  # repeats accumulate
                (lambda x: x[np.array([[True, False], [False, True]])], [normal(2, 2)]),
                (lambda x: x[np.arange(3), np.array([1, 0, 1])], [normal(3, 2)]),
                (lambda x: x[1], [normal(3, 4)]), (lambda x: x[..., None, 0], [normal(2, 3)])],
    "scatter_add": [(lambda g: al.scatter_add(g, index=np.array([0, 2, 0]), shape=(4, 2)),
                     [normal(3, 2)])],
    "stack": [(lambda a, b: al.stack([a, b], axis=1), [normal(3, 2), normal(3, 2)])],
    "concatenate": [(lambda a, b: al.concatenate([a, b], axis=0), [normal(2, 3), normal(4, 3)]),
                    (lambda a, b: al.concatenate((a, b), axis=-1), [normal(2, 3), normal(2, 1)])],
    "matmul": [(lambda a, b: a @ b, [normal(*sa), normal(*sb)]) for sa, sb in [
        ((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
        ((2, 3, 4), (2, 4, 5)), ((3, 4), (2, 4, 5)), ((4,), (2, 4, 5)), ((2, 3, 4), (4,))]],
    "softmax": [(al.softmax, [normal(3, 4)]), (lambda x: al.softmax(x, axis=0), [normal(3, 4)]),
                (al.softmax, [normal(5) * 20])],
    "log_softmax": [(al.log_softmax, [normal(3, 4)]),
                    (lambda x: al.log_softmax(x, axis=0), [normal(3, 4)])],
    "softmax_cross_entropy": [
        (lambda x: al.softmax_cross_entropy(x, np.array([0, 3, 1])), [normal(3, 4)]),
        (lambda x: al.softmax_cross_entropy(x, np.array([0, 3, 1]), reduction="sum"),
         [normal(3, 4)]),
        (lambda x: al.softmax_cross_entropy(x, np.array([0, 3, 1]), reduction="none"),
         [normal(3, 4)]),
        (lambda x: al.softmax_cross_entropy(x, np.array([2, 0]), axis=0), [normal(3, 2)]),
        (lambda x, t: al.softmax_cross_entropy(x, t), [normal(3, 4), al.softmax(normal(3, 4))]),
        (lambda x: al.softmax_cross_entropy(x, np.array(2)), [normal(4)]),
    ],
}


def test_every_registered_op_has_cases() -> None:
    # (the built-ins of autograd_lite/ops.py; the other modules' ops have their own test files)
    builtin = {name for name in al.list_ops()
               if al.get_op(name).builtin and getattr(al.ops, name, None) is al.get_op(name)}
    assert builtin == set(CASES), builtin ^ set(CASES)


@pytest.mark.filterwarnings("ignore::autograd_lite.TargetWarning")  # perturbed probability targets
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("name", "index"),
                         [(name, i) for name, cases in CASES.items() for i in range(len(cases))])
def test_op_gradient_matches_finite_differences(name: str, index: int, dtype: type) -> None:
    fn, arrays = CASES[name][index]
    arrays = [a.astype(dtype) if np.asarray(a).dtype.kind == "f" else a for a in arrays]
    assert_matches_fd(fn, arrays, seed=index)


BINARY = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
          "div": lambda x, y: x / (y * y + 0.5)}


@given(name=st.sampled_from(sorted(BINARY)),
       shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       seed=st.integers(0, 2**16))
def test_binary_ops_broadcast_any_shapes(name: str, shapes, seed: int) -> None:
    r = np.random.default_rng(seed)
    a, b = (r.standard_normal(s) for s in shapes.input_shapes)
    assert_matches_fd(BINARY[name], [a, b], seed=seed)


UNARY = {"exp": al.exp, "tanh": al.tanh, "sigmoid": al.sigmoid, "softmax": al.softmax,
         "log_softmax": al.log_softmax, "logsumexp": al.logsumexp,
         "log": lambda x: al.log(x * x + 0.5), "sqrt": lambda x: al.sqrt(x * x + 0.5)}


@given(name=st.sampled_from(sorted(UNARY)),
       shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
       values=st.floats(-3, 3), seed=st.integers(0, 2**16))
def test_unary_ops_any_shape(name: str, shape, values: float, seed: int) -> None:
    x = np.random.default_rng(seed).standard_normal(shape) + values
    assert_matches_fd(UNARY[name], [x], seed=seed)


# ------------------------------------------------------------------------------ known values
def test_softmax_known_rows_are_stable_and_shift_invariant() -> None:
    out = al.softmax(al.Tensor([[1001.0, 1002.0], [-1001.0, -1002.0]])).data
    np.testing.assert_allclose(out, [[0.26894142, 0.73105858], [0.73105858, 0.26894142]],
                               rtol=1e-8)
    x = rng.standard_normal((4, 5))
    np.testing.assert_allclose(al.softmax(al.Tensor(x + 123.0)).data, al.softmax(al.Tensor(x)).data,
                               rtol=1e-12)


def test_sigmoid_known_values_and_derivative() -> None:
    x = al.Tensor([[1, 2], [-1, -2]], requires_grad=True)
    s = al.sigmoid(x)
    np.testing.assert_allclose(s.data, 1 / (1 + np.exp(-np.array([[1, 2], [-1, -2]]))))
    s.sum().backward()
    np.testing.assert_allclose(x.grad, [[0.19661193, 0.10499359], [0.19661193, 0.10499359]],
                               rtol=1e-7)


def test_sigmoid_tails_are_exact() -> None:
    s = al.sigmoid(al.Tensor([-800.0, -40.0, 40.0, 800.0])).data
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s[1], np.exp(-40.0) / (1 + np.exp(-40.0)), rtol=1e-14)
    assert s[0] == 0.0 and s[3] == 1.0


@pytest.mark.parametrize("size", [4, 64, 65, 1023, 1024, 5000])
def test_sigmoid_is_accurate_at_every_size_and_in_both_tails(size: int) -> None:
    """Each way the forward computes σ (small arrays, in place with either final step, the
    overflow-safe form) against e^(−|x|)-based reference values, tails included."""
    x = rng.uniform(-30, 30, size)
    x[:4] = [-800.0, -720.0, 40.0, 800.0][: min(4, size)]
    e = np.exp(-np.abs(x))
    reference = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    # relative error about |x|·u (the exponent's rounding): at most 800·2^−52 ≈ 1.8e-13 here
    np.testing.assert_allclose(al.sigmoid(al.Tensor(x)).data, reference, rtol=4e-13, atol=0)
    safe = x[x > -700]  # the in-place form, without the overflow guard's fallback
    e = np.exp(-np.abs(safe))
    np.testing.assert_allclose(al.sigmoid(al.Tensor(safe)).data,
                               np.where(safe >= 0, 1.0 / (1.0 + e), e / (1.0 + e)),
                               rtol=4e-13, atol=0)
    single = al.sigmoid(al.Tensor(safe.astype(np.float32))).data  # float32 stays float32
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, np.where(safe >= 0, 1.0 / (1.0 + e), e / (1.0 + e)),
                               rtol=1e-5, atol=0)


@pytest.mark.parametrize("scale", [1e4, 1e6, 1e300])
def test_softmax_cross_entropy_is_finite_for_huge_logits(scale: float) -> None:
    logits = al.Tensor([[scale, -scale, 0.0], [-scale, scale, 1.0]], requires_grad=True)
    loss = al.softmax_cross_entropy(logits, np.array([1, 1]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(logits.grad))
    # row 0 puts all mass on class 0 but the label is 1: loss 2*scale, gradient (1, -1, 0) / 2
    np.testing.assert_allclose(loss.item(), scale, rtol=1e-12)
    np.testing.assert_allclose(logits.grad, [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]], atol=1e-12)


def test_softmax_cross_entropy_gradient_is_probs_minus_onehot_scaled() -> None:
    x = rng.standard_normal((5, 3))
    labels = np.array([0, 2, 1, 1, 0])
    onehot = np.eye(3)[labels]
    probs = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    for reduction, scale in [("mean", 1 / 5), ("sum", 1.0)]:
        t = al.Tensor(x, requires_grad=True)
        loss = al.softmax_cross_entropy(t, labels, reduction=reduction)
        np.testing.assert_allclose(loss.item(), -np.sum(onehot * np.log(probs)) * scale,
                                   rtol=1e-13)
        loss.backward()
        np.testing.assert_allclose(t.grad, (probs - onehot) * scale, rtol=1e-13, atol=1e-16)
    # one-hot probabilities give the same loss and gradient as the indices
    t = al.Tensor(x, requires_grad=True)
    al.softmax_cross_entropy(t, onehot).backward()
    np.testing.assert_allclose(t.grad, (probs - onehot) / 5, rtol=1e-13, atol=1e-16)


def test_dtypes_are_preserved() -> None:
    x32 = al.Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    out = (al.sigmoid(x32 * 2.0 + 1) @ np.ones((3, 1), np.float32)).sum()
    assert out.dtype == np.float32
    out.backward()
    assert x32.grad.dtype == np.float32
    # float32 mixed with float64 follows NumPy (promotes); the float32 leaf's gradient stays float32
    mixed = (x32 * np.ones(3)).sum()
    assert mixed.dtype == np.float64
    x32.zero_grad()
    mixed.backward()
    assert x32.grad.dtype == np.float32


def test_functions_on_plain_arrays_return_arrays() -> None:
    x = rng.standard_normal(3)
    assert isinstance(al.exp(x), np.ndarray)
    np.testing.assert_allclose(al.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
