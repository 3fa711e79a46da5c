"""Shape and indexing ops (autograd_lite.shapes): values against NumPy, gradients of orders 1 and
2 against central differences (float64 and float32), JVP rules, the same through np.*, and the
documented refusals and tie rules."""

from __future__ import annotations

import itertools
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

SAMPLES = Samples(42)
RNG, normal = SAMPLES.rng, SAMPLES.normal


def _all_axes(ndim: int) -> list[Any]:
    """None, every axis (positive and negative) and every tuple of two or more axes."""
    axes: list[Any] = [None, *range(ndim), -1]
    for r in range(2, ndim + 1):
        axes += list(itertools.combinations(range(ndim), r))
    return axes


# (op name, arrays, settings): every case is checked against NumPy, central differences (orders
# 1 and 2, float64 and float32), the JVP rule and the np.* dispatch.
CASES: list[tuple[str, list[Any], dict[str, Any]]] = []
for shape in [(4,), (3, 4), (2, 3, 4)]:
    for axis in _all_axes(len(shape)):
        CASES.append(("flip", [normal(*shape)], {"axis": axis}))
        if axis is not None:
            CASES.append(("roll", [normal(*shape)], {"shift": 2 if isinstance(axis, int) else
                                                     tuple(range(1, len(axis) + 1)),
                                                     "axis": axis}))
        if isinstance(axis, int):
            CASES.append(("sort", [normal(*shape)], {"axis": axis}))
            CASES.append(("expand_dims", [normal(*shape)], {"axis": axis}))
            CASES.append(("repeat", [normal(*shape)], {"repeats": 2, "axis": axis}))
            CASES.append(("take", [normal(*shape), np.array([0, 1, 1, -1])], {"axis": axis}))
    CASES += [("roll", [normal(*shape)], {"shift": -3}),
              ("sort", [normal(*shape)], {"axis": None}),
              ("repeat", [normal(*shape)], {"repeats": 3}),
              ("take", [normal(*shape), np.array([[0, 3], [3, 1]])], {}),
              ("ravel", [normal(*shape)], {}), ("ravel", [normal(*shape)], {"order": "F"}),
              ("flatten", [normal(*shape)], {}), ("flatten", [normal(*shape)], {"order": "F"}),
              ("tile", [normal(*shape)], {"reps": 2}),
              ("tile", [normal(*shape)], {"reps": (2, 1, 3)}),
              ("atleast_1d", [normal(*shape)], {}), ("atleast_2d", [normal(*shape)], {}),
              ("atleast_3d", [normal(*shape)], {}),
              ("pad", [normal(*shape)], {"pad_width": 1}),
              ("pad", [normal(*shape)], {"pad_width": (2, 1), "constant_values": 3.0})]
    for mode in ("edge", "reflect", "symmetric", "wrap"):
        CASES.append(("pad", [normal(*shape)], {"pad_width": 2, "mode": mode}))
for ndim in (2, 3):
    shape = (3, 4, 2)[:ndim]
    for a1, a2 in itertools.permutations(range(ndim), 2):
        CASES.append(("swapaxes", [normal(*shape)], {"axis1": a1, "axis2": a2}))
        CASES.append(("moveaxis", [normal(*shape)], {"source": a1, "destination": a2}))
        for offset in (-1, 0, 2):
            CASES.append(("diagonal", [normal(*shape)], {"offset": offset, "axis1": a1,
                                                          "axis2": a2}))
        CASES.append(("rot90", [normal(*shape)], {"k": 1, "axes": (a1, a2)}))
    for k in (-1, 0, 1, 2):
        CASES += [("triu", [normal(*shape)], {"k": k}), ("tril", [normal(*shape)], {"k": k})]
    CASES += [("fliplr", [normal(*shape)], {}), ("flipud", [normal(*shape)], {}),
              ("rot90", [normal(*shape)], {"k": 3}),
              ("take_along_axis", [normal(*shape), RNG.integers(0, 3, size=(2,) + shape[1:])],
               {"axis": 0}),
              ("take_along_axis", [normal(*shape),
                                   RNG.integers(0, shape[-1], size=shape[:-1] + (5,))],
               {"axis": -1})]
CASES += [
    ("squeeze", [normal(1, 3, 1)], {}), ("squeeze", [normal(1, 3, 1)], {"axis": 0}),
    ("squeeze", [normal(1, 3, 1)], {"axis": (0, 2)}),
    ("expand_dims", [normal(3, 2)], {"axis": (0, 3)}),
    ("repeat", [normal(3, 2)], {"repeats": [2, 0, 1], "axis": 0}),
    ("take", [normal(3, 4), np.array([5, -2])], {"axis": 1, "mode": "wrap"}),
    ("take", [normal(3, 4), np.array([9, -7])], {"axis": 0, "mode": "clip"}),
    ("take_along_axis", [normal(6), np.array([5, 0, 0, 2])], {"axis": None}),
    ("diag", [normal(4)], {}), ("diag", [normal(3)], {"k": 2}), ("diag", [normal(3)], {"k": -1}),
    ("diag", [normal(3, 4)], {}), ("diag", [normal(3, 4)], {"k": 1}),
    ("diag", [normal(4, 3)], {"k": -2}),
    ("triu", [normal(4)], {}), ("tril", [normal(2, 3, 3)], {"k": -1}),
    ("atleast_1d", [np.array(2.5)], {}), ("atleast_2d", [normal(3)], {}),
    ("atleast_3d", [normal(3)], {}), ("atleast_3d", [normal(2, 3, 4, 1)], {}),
    ("pad", [normal(3, 2)], {"pad_width": ((1, 0), (0, 3))}),
    ("pad", [normal(2, 3)], {"pad_width": ((4, 5), (3, 7)), "mode": "wrap"}),
    ("pad", [normal(3, 3)], {"pad_width": ((3, 3), (1, 2)), "mode": "reflect"}),
    ("sort", [normal(3, 4)], {"axis": 0, "kind": "mergesort"}),
    ("tile", [normal(3, 2)], {"reps": (2, 1)}),
]
NUMPY_NAMES = {"flatten": None}  # ndarray.flatten is a method only


def _case_id(case: tuple[str, list[Any], dict[str, Any]]) -> str:
    name, arrays, kwargs = case
    return f"{name}-{'x'.join(map(str, np.shape(arrays[0])))}-{kwargs}"


def _call(name: str, arrays: list[Any], kwargs: dict[str, Any]) -> Any:
    return getattr(al, name)(*arrays, **kwargs)


def _differentiable(name: str, arrays: list[Any], kwargs: dict[str, Any]
                    ) -> tuple[Any, list[np.ndarray]]:
    """The op as a function of its float input alone (index arrays bound), and that input."""
    return (lambda x: _call(name, [x, *arrays[1:]], kwargs)), arrays[:1]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_value_matches_numpy(case: tuple[str, list[Any], dict[str, Any]]) -> None:
    name, arrays, kwargs = case
    got = _call(name, [al.Tensor(a) for a in arrays], kwargs)
    expected = (np.asarray(arrays[0]).flatten(kwargs.get("order", "C")) if name == "flatten"
                else getattr(np, name)(*arrays, **kwargs))
    np.testing.assert_array_equal(got.data, expected)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_gradient_matches_central_differences(case: tuple[str, list[Any], dict[str, Any]]
                                              ) -> None:
    assert_matches_fd(*_differentiable(*case))


@pytest.mark.parametrize("case", CASES[::3], ids=_case_id)
def test_float32_is_kept(case: tuple[str, list[Any], dict[str, Any]]) -> None:
    assert_float32_keeps_dtype(*_differentiable(*case))


@pytest.mark.parametrize("case", CASES[::2], ids=_case_id)
def test_second_order_matches_central_differences(case: tuple[str, list[Any], dict[str, Any]]
                                                  ) -> None:
    """The op is linear, so its output is cubed: the op's VJP then runs on tensors that depend
    on the input, and the second derivative goes through it."""
    fn, arrays = _differentiable(*case)
    assert_second_order_matches_fd(lambda x: fn(x) ** 3, arrays)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_jvp_rule(case: tuple[str, list[Any], dict[str, Any]]) -> None:
    name, arrays, kwargs = case
    assert_jvp_matches_fd(al.get_op(name), arrays, **kwargs)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] not in NUMPY_NAMES], ids=_case_id)
def test_numpy_dispatch_gives_the_same_values_and_gradients(
        case: tuple[str, list[Any], dict[str, Any]]) -> None:
    name, arrays, kwargs = case
    numpy_fn = getattr(np, name)

    def via_numpy(*xs: Any) -> Any:
        out = numpy_fn(*xs, **kwargs)
        assert isinstance(out, al.Tensor), type(out)
        return out

    with al.no_grad():
        expected = _call(name, [al.Tensor(a) for a in arrays], kwargs)
        np.testing.assert_array_equal(via_numpy(*[al.Tensor(a) for a in arrays]).data,
                                      expected.data)
    weights = RNG.standard_normal(expected.shape)
    through_al = first_order(lambda *xs: _call(name, list(xs), kwargs), arrays, weights)
    through_np = first_order(via_numpy, arrays, weights)
    np.testing.assert_array_equal(through_np[0], through_al[0])


# ----------------------------------------------------------------------------- ties, splits
def test_sort_ties_follow_the_stable_argsort() -> None:
    """x = [2, 1, 2, 1] sorts to [1, 1, 2, 2]: the first 1 (index 1) goes first, then index 3,
    then the 2s in order (0, 2), so element i gets the weight of its sorted position."""
    x = al.Tensor([2.0, 1.0, 2.0, 1.0], requires_grad=True)
    w = np.array([10.0, 20.0, 30.0, 40.0])
    (al.sort(x) * w).sum().backward()
    np.testing.assert_array_equal(x.grad, [w[2], w[0], w[3], w[1]])


@pytest.mark.parametrize(("fn", "sections", "axis", "shape"), [
    (al.split, 3, 0, (6, 2)), (al.split, [1, 4], 1, (2, 6)), (al.array_split, 4, 0, (6, 2)),
    (al.array_split, 2, -1, (2, 3, 5)), (al.split, [2, 2, 5], 0, (6,)),
])
def test_split_pieces_match_numpy_and_carry_gradients(fn: Any, sections: Any, axis: int,
                                                      shape: tuple[int, ...]) -> None:
    x = normal(*shape)
    numpy_pieces = getattr(np, fn.__name__)(x, sections, axis=axis)
    pieces = fn(al.Tensor(x), sections, axis=axis)
    assert len(pieces) == len(numpy_pieces)
    for got, expected in zip(pieces, numpy_pieces):
        np.testing.assert_array_equal(got.data, expected)
    weights = [normal(*p.shape) for p in numpy_pieces]

    def weighted(t: al.Tensor) -> al.Tensor:
        total = al.Tensor(0.0)
        for piece, w in zip(fn(t, sections, axis=axis), weights):
            total = total + (piece * piece * w).sum()
        return total

    assert_matches_fd(weighted, [x])
    assert_second_order_matches_fd(lambda t: weighted(t) * weighted(t), [x])
    via_numpy = getattr(np, fn.__name__)(al.Tensor(x), sections, axis=axis)
    assert all(isinstance(p, al.Tensor) for p in via_numpy)


def test_split_refuses_an_unequal_division() -> None:
    with pytest.raises(al.InputValueError, match="array_split"):
        al.split(al.Tensor(normal(5)), 2)


def test_atleast_with_several_inputs_returns_a_list() -> None:
    a, b = al.Tensor(2.0), al.Tensor(normal(3))
    got = al.atleast_2d(a, b)
    assert [g.shape for g in got] == [s.shape for s in np.atleast_2d(a.data, b.data)]


# -------------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda x: al.pad(x, 1, mode="mean"), al.InputValueError, "mode='mean'"),
    (lambda x: al.pad(x, 1, mode="reflect", reflect_type="odd"), al.InputValueError, "odd"),
    (lambda x: al.pad(x, ((1, 2), (3, 4), (5, 6))), al.ShapeError, "pad_width"),
    (lambda x: al.ravel(x, order="K"), al.InputValueError, "memory layout"),
    (lambda x: al.take(x, [0, 12]), al.InputValueError, "out of bounds"),
    (lambda x: al.take(x, [0.5]), al.InputValueError, "integers"),
    (lambda x: al.diag(x[None]), al.ShapeError, "1-D or 2-D"),
    (lambda x: x.sort(), al.GraphError, "in place"),
    (lambda x: al.squeeze(x, axis=0), al.InputValueError, "squeeze"),
])
def test_refusals_name_the_op_and_the_fix(call: Any, error: type, words: str) -> None:
    x = al.Tensor(normal(3, 4), requires_grad=True)
    with pytest.raises(error, match=words):
        call(x)


def test_tensor_methods_match_the_ops() -> None:
    x = normal(2, 3)
    t = al.Tensor(x, requires_grad=True)
    pairs = [(t.ravel(), x.ravel()), (t.flatten("F"), x.flatten("F")),
             (t[None].squeeze(), x), (t.swapaxes(0, 1), x.swapaxes(0, 1)),
             (t.repeat(2, axis=1), x.repeat(2, axis=1)), (t.diagonal(), x.diagonal()),
             (t.take([1, 4]), x.take([1, 4])), (t.dot(np.ones(3)), x.dot(np.ones(3)))]
    for got, expected in pairs:
        np.testing.assert_array_equal(got.data, expected)
    assert_matches_fd(lambda u: u.swapaxes(0, 1).ravel() * u.flatten() ** 2, [x])


# ------------------------------------------------------------------------------ hypothesis
@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), data=st.data())
def test_hypothesis_permutations_and_copies(shape: list[int], data: Any) -> None:
    """Random shapes, axes and values: flip, roll, repeat, tile and sort agree with NumPy and
    with central differences."""
    x = data.draw(st.integers(0, 2**32 - 1).map(
        lambda s: np.random.default_rng(s).standard_normal(shape)))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    shift = data.draw(st.integers(-5, 5))
    reps = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    calls = [(al.flip, np.flip, {"axis": axis}), (al.roll, np.roll, {"shift": shift,
                                                                     "axis": axis}),
             (al.repeat, np.repeat, {"repeats": 2, "axis": axis}),
             (al.tile, np.tile, {"reps": tuple(reps)}), (al.sort, np.sort, {"axis": axis})]
    for ours, theirs, kwargs in calls:
        np.testing.assert_array_equal(ours(al.Tensor(x), **kwargs).data, theirs(x, **kwargs))
        assert_matches_fd(lambda t, f=ours, k=kwargs: f(t, **k) ** 2, [x])
