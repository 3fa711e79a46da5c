"""Forward mode: every built-in op's JVP rule against central differences and against its VJP
(the transposition identity ⟨J t, u⟩ = ⟨t, Jᵀ u⟩), the forward-mode engine (func.jvp) on every
op, a hypothesis property over random shapes and values, and the engine's contracts (errors for
ops without a rule, dtypes, no_grad, nothing left switched on)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import Samples, assert_jvp_matches_fd, call_op
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd_lite as al
from autograd_lite import func
from autograd_lite.modes import current_mode

samples = Samples(7)
rng = samples.rng
normal, positive = samples.normal, samples.positive
away_from_zero, distinct = samples.away_from_zero, samples.distinct


def probabilities(*shape: int) -> np.ndarray:
    p = rng.uniform(0.1, 1.0, shape)
    return p / p.sum(axis=-1, keepdims=True)


PAIRS = [((), ()), ((3,), (3,)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)),
         ((), (2, 3)), ((4,), (3, 1))]
# (op name, input arrays, settings)
CASES: list[tuple[str, list, dict]] = [
    *[("add", [normal(*a), normal(*b)], {}) for a, b in PAIRS],
    *[("sub", [normal(*a), normal(*b)], {}) for a, b in PAIRS],
    *[("mul", [normal(*a), normal(*b)], {}) for a, b in PAIRS],
    *[("div", [normal(*a), positive(*b)], {}) for a, b in PAIRS],
    ("neg", [normal(3, 4)], {}), ("neg", [normal()], {}),
    ("pow", [positive(3, 4), normal(4)], {}), ("pow", [normal(5), 3], {}),
    ("pow", [positive(2, 3), 2.5], {}), ("pow", [2.0, normal(3)], {}),
    ("pow", [normal(3), 0], {}),
    ("exp", [normal(3, 4)], {}), ("exp", [normal()], {}),
    ("log", [positive(2, 3)], {}), ("sqrt", [positive(3, 4)], {}),
    ("abs", [away_from_zero(3, 4)], {}), ("sigmoid", [normal(3, 4) * 3], {}),
    ("sigmoid", [normal(100) * 3], {}), ("tanh", [normal(3, 4)], {}),
    ("relu", [away_from_zero(3, 4)], {}), ("astype", [normal(3)], {"dtype": np.float64}),
    ("sum", [normal(3, 4)], {}), ("sum", [normal(3, 4)], {"axis": 0}),
    ("sum", [normal(2, 3, 4)], {"axis": (0, 2), "keepdims": True}),
    ("mean", [normal(3, 4)], {}), ("mean", [normal(3, 4)], {"axis": 1, "keepdims": True}),
    ("max", [distinct(3, 4)], {}), ("max", [distinct(3, 4)], {"axis": 0}),
    ("max", [np.array([1.0, 3.0, 3.0, 2.0])], {}),  # a tie: the tangents' mean
    ("min", [distinct(3, 4)], {"axis": 1}), ("min", [distinct(2, 3, 4)], {"axis": -1,
                                                                         "keepdims": True}),
    ("logsumexp", [normal(3, 4)], {}), ("logsumexp", [normal(3, 4) * 10], {"axis": 1}),
    ("reshape", [normal(3, 4)], {"shape": (4, 3)}), ("reshape", [normal(2, 3, 4)], {"shape": -1}),
    ("transpose", [normal(3, 4)], {}), ("transpose", [normal(2, 3, 4)], {"axes": (1, 2, 0)}),
    ("broadcast_to", [normal(3, 1)], {"shape": (2, 3, 4)}),
    ("getitem", [normal(3, 4)], {"index": (slice(1, None), slice(None, None, 2))}),
    ("getitem", [normal(3, 4)], {"index": np.array([0, 2, 0, 0])}),
    ("getitem", [normal(3, 2)], {"index": (np.arange(3), np.array([1, 0, 1]))}),
    ("scatter_add", [normal(3, 2)], {"index": np.array([0, 2, 0]), "shape": (4, 2)}),
    ("stack", [normal(3, 2), normal(3, 2)], {"axis": 1}),
    ("concatenate", [normal(2, 3), normal(4, 3)], {"axis": 0}),
    ("matmul", [normal(3, 4), normal(4, 2)], {}), ("matmul", [normal(4), normal(4, 2)], {}),
    ("matmul", [normal(3, 4), normal(4)], {}), ("matmul", [normal(4), normal(4)], {}),
    ("matmul", [normal(2, 3, 4), normal(4, 5)], {}),
    ("softmax", [normal(3, 4)], {}), ("softmax", [normal(3, 4)], {"axis": 0}),
    ("log_softmax", [normal(3, 4)], {}), ("log_softmax", [normal(2, 3, 4)], {"axis": 1}),
    *[("softmax_cross_entropy", [normal(4, 3), np.array([0, 2, 1, 2])], {"reduction": r})
      for r in ("mean", "sum", "none")],
    ("softmax_cross_entropy", [normal(3, 4), np.array([1, 0, 2, 1])], {"axis": 0}),
    *[("softmax_cross_entropy", [normal(4, 3), probabilities(4, 3)], {"reduction": r})
      for r in ("mean", "sum", "none")],
]


def _case_id(case: tuple) -> str:
    name, arrays, options = case
    return f"{name}-{'-'.join(str(np.shape(a)) for a in arrays)}-{sorted(options)}"


# The built-ins of autograd_lite/ops.py (the NumPy-surface modules test their own JVP rules).
OPS_PY = ("abs", "add", "astype", "broadcast_to", "concatenate", "div", "exp", "getitem", "log",
          "log_softmax", "logsumexp", "matmul", "max", "mean", "min", "mul", "neg", "pow", "relu",
          "reshape", "scatter_add", "sigmoid", "softmax", "softmax_cross_entropy", "sqrt",
          "stack", "sub", "sum", "tanh", "transpose")


def test_every_builtin_op_has_a_case_and_a_jvp_rule() -> None:
    names = {name for name, _, _ in CASES}
    assert set(OPS_PY) <= names, f"ops without a JVP test: {sorted(set(OPS_PY) - names)}"
    for n in OPS_PY:
        op = al.get_op(n)
        assert op.builtin and (op.jvp is not None or op.jvps is not None), n


@pytest.mark.filterwarnings("ignore::autograd_lite.TargetWarning")  # (targets moved by FD)
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_jvp_rule_matches_central_differences_and_vjp(case: tuple) -> None:
    name, arrays, options = case
    assert_jvp_matches_fd(al.get_op(name), arrays, **options)


def _central(fn, arrays: list, tangents: list, h: float = 6e-6) -> np.ndarray:
    def at(sign: float) -> np.ndarray:
        moved = [a if t is None else a + sign * h * t for a, t in zip(arrays, tangents)]
        with al.no_grad():
            return np.asarray(fn(*[al.Tensor(m) for m in moved]).data)
    return (at(1.0) - at(-1.0)) / (2 * h)


@pytest.mark.filterwarnings("ignore::autograd_lite.TargetWarning")  # (targets moved by FD)
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_forward_mode_engine_matches_central_differences(case: tuple) -> None:
    """func.jvp through each op (the engine, not the rule called by hand)."""
    name, arrays, options = case
    op = al.get_op(name)
    floats = [i for i, a in enumerate(arrays) if np.asarray(a).dtype.kind == "f"]
    tangents = [rng.standard_normal(np.shape(a)) if i in floats else None
                for i, a in enumerate(arrays)]

    def f(*diff):
        full = list(arrays)
        for i, x in zip(floats, diff):
            full[i] = x
        return call_op(op, full, **options)

    out, tangent = func.jvp(f, tuple(np.asarray(arrays[i], float) for i in floats),
                            tuple(tangents[i] for i in floats))
    numeric = _central(lambda *xs: call_op(op, xs, **options),
                       [np.asarray(a, float) if i in floats else a for i, a in enumerate(arrays)],
                       tangents)
    assert tangent.shape == out.shape == numeric.shape
    np.testing.assert_allclose(tangent, numeric, rtol=1e-6, atol=1e-7)


UNARY = {"exp": lambda x: x, "tanh": lambda x: x, "sigmoid": lambda x: x,
         "log": lambda x: np.abs(x) + 0.5, "sqrt": lambda x: np.abs(x) + 0.5,
         "abs": lambda x: np.where(np.abs(x) < 0.1, 0.5, x),
         "relu": lambda x: np.where(np.abs(x) < 0.1, 0.5, x), "neg": lambda x: x}
BINARY = {"add": lambda y: y, "sub": lambda y: y, "mul": lambda y: y,
          "div": lambda y: np.abs(y) + 0.5}
values = st.floats(-3, 3, allow_nan=False, width=64)


def _inner(a, b) -> float:
    return float(np.sum(np.asarray(a, float) * np.asarray(b, float)))


@settings(max_examples=40, deadline=None)
@given(data=st.data(), shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
def test_transposition_identity_on_random_shapes(data: st.DataObject, shape: tuple) -> None:
    """⟨jvp(t), u⟩ = ⟨t, vjp(u)⟩ through the engines, for random element-wise chains,
    broadcasting pairs and reductions over random axes."""
    x = data.draw(hnp.arrays(np.float64, shape, elements=values))
    name = data.draw(st.sampled_from(sorted(UNARY)))
    other = data.draw(st.sampled_from(sorted(BINARY)))
    tail = shape[data.draw(st.integers(0, len(shape))):]
    y = BINARY[other](data.draw(hnp.arrays(np.float64, tail, elements=values)))
    axis = data.draw(st.sampled_from([None, *range(len(shape))]))
    reduction = data.draw(st.sampled_from(["sum", "mean", "max", "logsumexp"]))

    def f(x, y):
        z = al.get_op(other)(al.get_op(name)(x), y)
        return al.get_op(reduction)(z, axis=axis) if reduction != "max" else al.exp(z)

    x = UNARY[name](x)
    tx = data.draw(hnp.arrays(np.float64, shape, elements=values))
    ty = data.draw(hnp.arrays(np.float64, tail, elements=values))
    out, tangent = func.jvp(f, (x, y), (tx, ty))
    u = data.draw(hnp.arrays(np.float64, np.shape(out), elements=values))
    _, pull = func.vjp(f, x, y)
    gx, gy = pull(u)
    left, right = _inner(tangent, u), _inner(tx, gx) + _inner(ty, gy)
    assert abs(left - right) <= 1e-9 * max(1.0, abs(left), abs(right)), (left, right)


# ------------------------------------------------------------------------ engine contracts
def test_user_op_without_jvp_rule_is_refused_by_name() -> None:
    cube = al.register_op("cube_without_jvp", lambda x: x ** 3,
                          (lambda g, out, x: 3 * g * x * x,))
    assert func.grad(lambda x: al.sum(cube(x)))(np.array([2.0]))[0] == 12.0
    with pytest.raises(al.RegistryError, match=r"cube_without_jvp.*no JVP rule"):
        func.jvp(lambda x: cube(x), (np.array([2.0]),), (np.array([1.0]),))


def test_user_op_with_jvp_rules_in_both_forms() -> None:
    per_input = al.register_op("hypot_per_input", lambda x, y: np.hypot(x, y),
                               (lambda g, out, x, y: g * x / out, lambda g, out, x, y: g * y / out),
                               jvp=(lambda t, out, x, y: t * x / out,
                                    lambda t, out, x, y: t * y / out))
    joint = al.register_op("hypot_joint", lambda x, y: np.hypot(x, y),
                           (lambda g, out, x, y: g * x / out, lambda g, out, x, y: g * y / out),
                           jvp=lambda ts, out, x, y: sum(t * v / out for t, v in zip(ts, (x, y))
                                                         if t is not None))
    x, y, tx, ty = np.array([3.0, 1.0]), np.array([4.0, 2.0]), np.array([1.0, 0.5]), np.ones(2)
    expected = (x * tx + y * ty) / np.hypot(x, y)
    for op in (per_input, joint):
        assert_jvp_matches_fd(op, [x, y])
        np.testing.assert_allclose(func.jvp(op, (x, y), (tx, ty))[1], expected, rtol=1e-12)
    # only one argument perturbed: the joint rule sees None for the other
    np.testing.assert_allclose(func.jvp(lambda x: joint(x, y), (x,), (tx,))[1],
                               x * tx / np.hypot(x, y), rtol=1e-12)


def test_wrong_tangent_shape_is_refused() -> None:
    with pytest.raises(al.ShapeError, match=r"tangent has shape \(2,\) but the primal"):
        func.jvp(al.exp, (np.ones(3),), (np.ones(2),))


def test_float32_is_preserved_and_tangents_cast() -> None:
    x = np.linspace(-1, 1, 5, dtype=np.float32)
    out, tangent = func.jvp(al.tanh, (x,), (np.ones(5),))  # a float64 tangent: cast
    assert out.dtype == tangent.dtype == np.float32
    np.testing.assert_allclose(tangent, 1 - np.tanh(x) ** 2, rtol=1e-6)


def test_tangents_flow_under_no_grad_and_modes_are_restored() -> None:
    x = np.array([0.5, -0.2])
    with al.no_grad():
        _, tangent = func.jvp(lambda x: al.exp(2.0 * x), (x,),
                              (np.ones(2),))
    np.testing.assert_allclose(tangent, 2 * np.exp(2 * x))
    assert current_mode().forward_levels == () and not current_mode().watching


def test_constant_output_has_zero_tangent_and_inputs_are_not_modified() -> None:
    x, t = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    x0, t0 = x.copy(), t.copy()
    out, tangent = func.jvp(lambda x: al.Tensor(np.ones(3)), (x,), (t,))
    np.testing.assert_array_equal(tangent, np.zeros(3))
    out, tangent = func.jvp(lambda x: x, (x,), (t,))  # identity: results are the caller's own
    out[0] = tangent[0] = 99.0
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(t, t0)


def test_forward_mode_costs_one_evaluation() -> None:
    """No hidden reverse pass: the function runs once and no node is recorded."""
    calls = []

    def f(x):
        calls.append(1)
        y = al.exp(x) * x
        assert y.node is None  # nothing requires grad: no tape
        return al.sum(y)

    func.jvp(f, (np.ones(3),), (np.ones(3),))
    assert len(calls) == 1


def test_contributions_summed_in_place_never_touch_the_tangents() -> None:
    """Contributions are summed into arrays the rules made, never into a caller's tangent."""
    x, y = rng.standard_normal(1000), rng.standard_normal(1000)
    tx, ty = rng.standard_normal(1000), rng.standard_normal(1000)
    before = tx.copy(), ty.copy()
    _, tangent = func.jvp(lambda x, y: (x + y) * y - x, (x, y), (tx, ty))
    np.testing.assert_allclose(tangent, (tx + ty) * y + (x + y) * ty - tx, rtol=1e-13)
    np.testing.assert_array_equal(tx, before[0])
    np.testing.assert_array_equal(ty, before[1])


def test_first_order_backward_inside_forward_mode_is_refused_not_wrong() -> None:
    """A plain backward() drops tangents; inside jvp it is refused, create_graph=True works."""
    x, t = np.array([0.3, -0.4]), np.array([1.0, 2.0])

    def gradient_step(w, create_graph):  # w − 0.1 ∇(Σ tanh² w)
        loss = al.sum(al.tanh(w) ** 2)
        (g,) = al.grad(loss, [w], create_graph=create_graph)
        return w - 0.1 * g

    w = al.Tensor(x, requires_grad=True)
    with pytest.raises(al.GraphError, match="drops the tangents"):
        func.jvp(lambda w: gradient_step(w, False), (w,), (t,))
    _, tangent = func.jvp(lambda w: gradient_step(w, True), (w,), (t,))
    th = np.tanh(x)  # (tanh²)'' = 2(1 − th²)² − 4 th²(1 − th²)
    second = 2 * (1 - th ** 2) ** 2 - 4 * th ** 2 * (1 - th ** 2)
    np.testing.assert_allclose(al.tensor.raw(tangent), (1 - 0.1 * second) * t, rtol=1e-12)
    # a backward pass on a graph that carries no tangent is left alone
    c = al.Tensor(x, requires_grad=True)
    func.jvp(lambda w: (al.sum(c * c).backward(), w * 2.0)[1], (x,), (t,))
    np.testing.assert_allclose(c.grad, 2 * x)


def _random_case(data: st.DataObject, name: str):
    """A random instance of op ``name``: (function of the float inputs, the float inputs)."""
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), label="shape")
    arr = lambda s, low=-2.0: data.draw(hnp.arrays(np.float64, s, elements=st.floats(
        low, 2.0, allow_nan=False)))
    ndim = len(shape)
    axis = data.draw(st.integers(-ndim, ndim - 1), label="axis")
    keep = data.draw(st.booleans(), label="keepdims")
    op = al.get_op(name)
    if name in ("exp", "sigmoid", "tanh", "neg"):
        return op, [arr(shape)]
    if name in ("log", "sqrt"):
        return op, [arr(shape, 0.3)]
    if name in ("abs", "relu"):
        x = arr(shape)
        return op, [np.where(np.abs(x) < 0.1, 0.5, x)]
    if name == "astype":
        return (lambda x: al.astype(x, dtype=np.float64)), [arr(shape)]
    if name in ("add", "sub", "mul", "div", "pow"):
        tail = shape[data.draw(st.integers(0, ndim)):]
        if name == "pow":
            return op, [arr(shape, 0.3), arr(tail)]
        y = arr(tail, 0.3) if name == "div" else arr(tail)
        return op, [arr(shape), y]
    if name in ("sum", "mean", "logsumexp"):
        return (lambda x: op(x, axis=axis, keepdims=keep)), [arr(shape)]
    if name in ("max", "min"):
        x = rng.permutation(int(np.prod(shape))).reshape(shape) * 0.3
        return (lambda x: op(x, axis=axis, keepdims=keep)), [x + arr(shape) * 0.01]
    if name == "reshape":
        return (lambda x: al.reshape(x, shape=(-1,))), [arr(shape)]
    if name == "transpose":
        axes = tuple(data.draw(st.permutations(range(ndim))))
        return (lambda x: al.transpose(x, axes=axes)), [arr(shape)]
    if name == "broadcast_to":
        return (lambda x: al.broadcast_to(x, shape=(2, *shape))), [arr(shape)]
    if name in ("getitem", "scatter_add"):
        index = np.array(data.draw(st.lists(st.integers(0, shape[0] - 1), min_size=1,
                                            max_size=5)))
        if name == "getitem":
            return (lambda x: x[index]), [arr(shape)]
        return (lambda x: al.scatter_add(x, index=index, shape=shape)), [arr((len(index),
                                                                            *shape[1:]))]
    if name == "stack":
        return (lambda a, b: al.stack([a, b], axis=axis)), [arr(shape), arr(shape)]
    if name == "concatenate":
        return (lambda a, b: al.concatenate([a, b], axis=axis)), [arr(shape), arr(shape)]
    if name == "matmul":
        k, n = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
        return op, [arr((*shape[:-1], k)), arr((k, n))]
    if name in ("softmax", "log_softmax"):
        return (lambda x: op(x, axis=axis)), [arr(shape)]
    assert name == "softmax_cross_entropy"
    rows, classes = shape[0], data.draw(st.integers(2, 4))
    labels = np.array(data.draw(st.lists(st.integers(0, classes - 1), min_size=rows,
                                         max_size=rows)))
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    return (lambda x: al.softmax_cross_entropy(x, labels, reduction=reduction)), [
        arr((rows, classes))]


@pytest.mark.parametrize("name", OPS_PY)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_every_builtin_transposition_identity_random(name: str, data: st.DataObject) -> None:
    """⟨J t, u⟩ = ⟨t, Jᵀ u⟩ through func.jvp and func.vjp, for every built-in op on random
    shapes, axes and values."""
    f, arrays = _random_case(data, name)
    tangents = tuple(rng.standard_normal(a.shape) for a in arrays)
    out, tangent = func.jvp(f, tuple(arrays), tangents)
    u = rng.standard_normal(np.shape(out))
    _, pull = func.vjp(f, *arrays)
    grads = pull(u)
    left = _inner(tangent, u)
    right = sum(_inner(t, g) for t, g in zip(tangents, grads))
    assert abs(left - right) <= 1e-9 * max(1.0, abs(left), abs(right)), (name, left, right)
