"""The element-wise ops (autograd_lite/elementwise.py): every op against central differences over
scalars, vectors, matrices and broadcasting pairs, orders 1 and 2, float32 and float64, its JVP
rule, hypothesis-drawn shapes and values inside the smooth part of each domain, and the
conventions at kinks and ties (each its own test)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gradient_checks import assert_second_order_matches_fd
from helpers import assert_jvp_matches_fd, assert_matches_fd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd_lite as al


def _signs(r: np.random.Generator, shape: tuple) -> np.ndarray:
    return r.choice([-1.0, 1.0], shape)


def _away_from_integers(r: np.random.Generator, shape: tuple, scale: float = 1.0) -> np.ndarray:
    """Values whose fractional part is in (0.1, 0.4) or (0.6, 0.9): away from every jump of the
    rounding functions (integers and halves)."""
    whole = r.integers(-3, 3, shape)
    frac = r.uniform(0.1, 0.4, shape) + 0.5 * r.integers(0, 2, shape)
    return (whole + frac) / scale


# name -> the values (inside the smooth part of the domain) for a shape
UNARY = {
    "sin": lambda r, s: r.uniform(-3, 3, s),
    "cos": lambda r, s: r.uniform(-3, 3, s),
    "tan": lambda r, s: r.uniform(-1.2, 1.2, s),
    "arcsin": lambda r, s: r.uniform(-0.9, 0.9, s),
    "arccos": lambda r, s: r.uniform(-0.9, 0.9, s),
    "arctan": lambda r, s: r.uniform(-3, 3, s),
    "sinh": lambda r, s: r.uniform(-2, 2, s),
    "cosh": lambda r, s: r.uniform(-2, 2, s),
    "arcsinh": lambda r, s: r.uniform(-3, 3, s),
    "arccosh": lambda r, s: r.uniform(1.2, 3, s),
    "arctanh": lambda r, s: r.uniform(-0.9, 0.9, s),
    "deg2rad": lambda r, s: r.uniform(-180, 180, s),
    "rad2deg": lambda r, s: r.uniform(-3, 3, s),
    "sinc": lambda r, s: r.uniform(-2.5, 2.5, s),
    "exp2": lambda r, s: r.uniform(-3, 3, s),
    "expm1": lambda r, s: r.uniform(-3, 2, s),
    "log2": lambda r, s: r.uniform(0.3, 3, s),
    "log10": lambda r, s: r.uniform(0.3, 3, s),
    "log1p": lambda r, s: r.uniform(-0.6, 3, s),
    "square": lambda r, s: r.uniform(-3, 3, s),
    "reciprocal": lambda r, s: r.uniform(0.4, 2, s) * _signs(r, s),
    "sign": lambda r, s: r.uniform(0.2, 2, s) * _signs(r, s),
    "floor": _away_from_integers,
    "ceil": _away_from_integers,
    "rint": _away_from_integers,
    "trunc": _away_from_integers,
    "round": _away_from_integers,
    "nan_to_num": lambda r, s: r.uniform(-3, 3, s),
}
# name -> values for each input, given their shapes
BINARY = {
    "logaddexp": lambda r, a, b: [r.uniform(-3, 3, a), r.uniform(-3, 3, b)],
    "logaddexp2": lambda r, a, b: [r.uniform(-3, 3, a), r.uniform(-3, 3, b)],
    "maximum": lambda r, a, b: _distinct_pair(r, a, b),
    "minimum": lambda r, a, b: _distinct_pair(r, a, b),
    "fmax": lambda r, a, b: _distinct_pair(r, a, b),
    "fmin": lambda r, a, b: _distinct_pair(r, a, b),
    "arctan2": lambda r, a, b: [r.uniform(0.3, 2, a) * _signs(r, a),
                                r.uniform(0.3, 2, b) * _signs(r, b)],
    "hypot": lambda r, a, b: [r.uniform(0.3, 2, a) * _signs(r, a),
                              r.uniform(0.3, 2, b) * _signs(r, b)],
    "remainder": lambda r, a, b: _remainder_pair(r, a, b),
}
ALIASES = {"absolute": "abs", "multiply": "mul", "subtract": "sub", "divide": "div",
           "true_divide": "div", "negative": "neg", "power": "pow", "amax": "max", "amin": "min",
           "mod": "remainder", "around": "round"}


def _drawn_until(r: np.random.Generator, a: tuple, b: tuple, draw, ok) -> list[np.ndarray]:
    """Operands drawn again until ``ok`` holds for their broadcast values."""
    for _ in range(1000):
        x, y = draw(r, a), draw(r, b)
        if ok(*np.broadcast_arrays(x, y)):
            return [x, y]
    raise AssertionError("no operands found")


def _distinct_pair(r: np.random.Generator, a: tuple, b: tuple) -> list[np.ndarray]:
    """Two operands whose broadcast elements differ by at least 0.1 (no ties)."""
    return _drawn_until(r, a, b, lambda r, s: r.uniform(-2, 2, s),
                        lambda x, y: bool(np.all(np.abs(x - y) > 0.1)))


def _remainder_pair(r: np.random.Generator, a: tuple, b: tuple) -> list[np.ndarray]:
    """x and y with x/y at least 0.1 away from an integer (remainder jumps there)."""
    def ok(x: np.ndarray, y: np.ndarray) -> bool:
        frac = np.remainder(x / y, 1.0)
        return bool(np.all((frac > 0.1) & (frac < 0.9)))

    return _drawn_until(r, a, b, lambda r, s: r.uniform(0.5, 3, s) * _signs(r, s), ok)


SHAPES = [(), (4,), (3, 4)]
PAIRS = [((), ()), ((3,), (3,)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((), (2, 3)), ((2, 3), ())]


def op(name: str) -> al.Op:
    return al.get_op(name)


def test_every_elementwise_op_has_cases() -> None:
    mine = {name for name in al.list_ops("element-wise")
            if getattr(al.elementwise, name, None) is al.get_op(name)
            and getattr(al.ops, name, None) is not al.get_op(name)}
    covered = set(UNARY) | set(BINARY) | {"clip", "where"}
    assert mine == covered, mine ^ covered
    for alias, name in ALIASES.items():
        assert getattr(al, alias) is al.get_op(name), alias


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_first_order(name: str, shape: tuple, dtype: type) -> None:
    r = np.random.default_rng(hash((name, shape)) % 2**32)
    x = UNARY[name](r, shape).astype(dtype)
    out = op(name)(al.Tensor(x))
    assert out.dtype == dtype, (name, out.dtype)
    np.testing.assert_allclose(out.data, getattr(np, "round" if name == "round" else name)(x)
                               if name != "sinc" else np.sinc(x), rtol=1e-6)
    assert_matches_fd(op(name), [x])


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_second_order_and_jvp(name: str) -> None:
    x = UNARY[name](np.random.default_rng(3), (3, 4))
    assert_second_order_matches_fd(op(name), [x])
    assert_jvp_matches_fd(op(name), [x])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shapes", PAIRS, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_first_order_with_broadcasting(name: str, shapes: tuple, dtype: type) -> None:
    r = np.random.default_rng(hash((name, shapes)) % 2**32)
    x, y = (v.astype(dtype) for v in BINARY[name](r, *shapes))
    out = op(name)(al.Tensor(x), al.Tensor(y))
    assert out.dtype == dtype
    np.testing.assert_allclose(out.data, getattr(np, name)(x, y), rtol=1e-6)
    assert_matches_fd(op(name), [x, y])


@pytest.mark.parametrize("shapes", [((3, 4), (4,)), ((3, 1), (1, 4))], ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_second_order_and_jvp(name: str, shapes: tuple) -> None:
    x, y = BINARY[name](np.random.default_rng(5), *shapes)
    assert_second_order_matches_fd(op(name), [x, y])
    assert_jvp_matches_fd(op(name), [x, y])


# ------------------------------------------------------------------------------ clip and where
CLIP_X = np.array([[-1.7, -0.6, 0.05, 0.4], [0.9, 1.6, -0.2, 0.65]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bounds", [(-0.5, 0.5), (None, 0.5), (-0.5, None)], ids=str)
def test_clip_with_constant_bounds(bounds: tuple, dtype: type) -> None:
    x = CLIP_X.astype(dtype)
    out = al.clip(al.Tensor(x), *bounds)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.data, np.clip(x, *bounds))
    assert_matches_fd(lambda t: al.clip(t, *bounds), [x])
    assert_second_order_matches_fd(lambda t: al.clip(t, *bounds), [CLIP_X])


def test_clip_with_tensor_bounds_broadcasting() -> None:
    lo, hi = np.array([-0.5, -0.3, -0.1, 0.0]), np.array([[0.5], [0.8]])
    assert_matches_fd(al.clip, [CLIP_X, lo, hi])
    assert_second_order_matches_fd(al.clip, [CLIP_X, lo, hi])
    assert_jvp_matches_fd(al.clip, [CLIP_X, lo, hi])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), ()),
                                    ((3, 1), (1, 4), (3, 4))], ids=str)
def test_where_selects_and_routes_the_gradient(shapes: tuple, dtype: type) -> None:
    r = np.random.default_rng(2)
    condition = r.random(shapes[0]) < 0.5
    x, y = r.standard_normal(shapes[1]).astype(dtype), r.standard_normal(shapes[2]).astype(dtype)
    out = al.where(condition, al.Tensor(x), al.Tensor(y))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.data, np.where(condition, x, y))
    assert_matches_fd(lambda a, b: al.where(condition, a, b), [x, y])
    assert_jvp_matches_fd(al.where, [condition, x, y])


def test_where_second_order() -> None:
    condition = np.array([True, False, True])
    assert_second_order_matches_fd(lambda a, b: al.where(condition, a * a, al.sin(b)),
                                   [np.array([0.3, -1.2, 2.0]), np.array([0.5, 0.1, -0.7])])


def test_where_condition_may_be_a_mask_tensor() -> None:
    x = al.Tensor(np.array([-1.0, 2.0, -3.0]), requires_grad=True)
    al.where(x > 0, x, 0.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])


def test_round_decimals() -> None:
    x = _away_from_integers(np.random.default_rng(4), (5,), scale=10.0)
    np.testing.assert_array_equal(al.round(al.Tensor(x), 1).data, np.round(x, 1))
    assert_matches_fd(lambda t: al.round(t, decimals=1) + t, [x])


def test_remainder_operator_and_gradient_closed_form() -> None:
    x = al.Tensor(np.array([5.3, -5.3, 2.2]), requires_grad=True)
    y = al.Tensor(np.array([2.0, 2.0, -0.7]), requires_grad=True)
    out = x % y
    np.testing.assert_allclose(out.data, np.remainder(x.data, y.data))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones(3))
    np.testing.assert_array_equal(y.grad, -np.floor(x.data / y.data))  # −⌊x/y⌋
    np.testing.assert_allclose((7.0 % y).data, np.remainder(7.0, y.data))
    assert al.mod is al.remainder


# ------------------------------------------------------------------------------ kinks and ties
def _grads(fn, *values: float) -> list[float]:
    tensors = [al.Tensor(np.float64(v), requires_grad=True) for v in values]
    fn(*tensors).backward()
    return [float(t.grad) for t in tensors]


@pytest.mark.parametrize("name", ["maximum", "minimum", "fmax", "fmin"])
def test_a_tie_splits_the_gradient_equally(name: str) -> None:
    """max(x, y) at x = y: g/2 to each (JAX's and HIPS autograd's convention)."""
    assert _grads(op(name), 1.5, 1.5) == [0.5, 0.5]
    larger = _grads(op(name), 2.0, 1.0)
    assert larger == ([1.0, 0.0] if name in ("maximum", "fmax") else [0.0, 1.0])


def test_maximum_and_fmax_with_nan() -> None:
    """maximum propagates NaN; fmax ignores it, so the number gets the whole gradient."""
    assert _grads(al.fmax, float("nan"), 1.0) == [0.0, 1.0]
    assert _grads(al.fmin, 2.0, float("nan")) == [1.0, 0.0]
    assert np.isnan(al.maximum(al.Tensor(np.nan), al.Tensor(1.0)).item())


def test_clip_at_its_kinks_splits_like_jax() -> None:
    """clip = minimum(maximum(a, lo), hi): at a = lo, a and lo get g/2 each; inside, a gets g."""
    assert _grads(al.clip, -1.0, -1.0, 1.0) == [0.5, 0.5, 0.0]
    assert _grads(al.clip, 1.0, -1.0, 1.0) == [0.5, 0.0, 0.5]
    assert _grads(al.clip, 0.0, -1.0, 1.0) == [1.0, 0.0, 0.0]
    assert _grads(al.clip, 3.0, -1.0, 1.0) == [0.0, 0.0, 1.0]
    # constant bounds: the kink gives a half
    x = al.Tensor(np.array([-1.0, 0.2, 1.0]), requires_grad=True)
    al.clip(x, -1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.5, 1.0, 0.5])


def test_abs_at_zero_has_gradient_zero() -> None:
    assert _grads(al.abs, 0.0) == [0.0]
    assert _grads(al.absolute, -2.0) == [-1.0]


@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "rint", "trunc", "round"])
def test_piecewise_constant_ops_have_zero_gradient_also_at_jumps(name: str) -> None:
    x = al.Tensor(np.array([-1.0, -0.5, 0.0, 0.5, 2.0]), requires_grad=True)
    op(name)(x).sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros(5))


def test_hypot_at_the_origin_has_gradient_zero() -> None:
    assert _grads(al.hypot, 0.0, 0.0) == [0.0, 0.0]
    np.testing.assert_allclose(_grads(al.hypot, 3.0, 4.0), [0.6, 0.8])


def test_sinc_near_and_at_zero() -> None:
    """sinc'(0) = 0 and sinc''(0) = −π²/3 (its Taylor series 1 − π²x²/6 + …); near 0 the
    derivative matches central differences of the forward."""
    x = al.Tensor(np.float64(0.0), requires_grad=True)
    (g,) = al.grad(al.sinc(x), x, create_graph=True)
    assert float(g.data) == 0.0
    (h,) = al.grad(g, x)
    np.testing.assert_allclose(h, -math.pi ** 2 / 3, rtol=1e-12)
    for point in (1e-5, 9e-4, 1.1e-3, 0.02):
        assert_matches_fd(al.sinc, [np.array([point, -point])])
        assert_second_order_matches_fd(al.sinc, [np.array([point, -point])])


def test_nan_to_num_gradient_is_zero_where_replaced() -> None:
    x = al.Tensor(np.array([1.5, np.nan, np.inf, -np.inf, -2.0]), requires_grad=True)
    out = al.nan_to_num(x, nan=0.5, posinf=9.0, neginf=-9.0)
    np.testing.assert_array_equal(out.data,
                                  np.nan_to_num(x.data, nan=0.5, posinf=9.0, neginf=-9.0))
    (out * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 0.0, 0.0, 3.0])


def test_clip_needs_a_bound_and_where_needs_three_inputs() -> None:
    with pytest.raises(al.AutogradLiteError, match="clip"):
        al.clip(al.Tensor([1.0, 2.0]), None, None)
    with pytest.raises(al.AutogradLiteError, match="where"):
        al.where(al.Tensor([1.0]) > 0)


def test_broadcast_failure_is_explained() -> None:
    with pytest.raises(al.ShapeError, match="do not broadcast"):
        al.maximum(al.Tensor(np.ones(3)), al.Tensor(np.ones(4)))


# ------------------------------------------------------------------------------ hypothesis
@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(sorted(UNARY)),
       shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=3), seed=st.integers(0, 2**16))
def test_unary_ops_on_any_shape(name: str, shape: tuple, seed: int) -> None:
    x = UNARY[name](np.random.default_rng(seed), shape)
    assert_matches_fd(op(name), [x], seed=seed)


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(["logaddexp", "logaddexp2", "arctan2", "hypot"]),
       shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       seed=st.integers(0, 2**16))
def test_smooth_binary_ops_broadcast_any_shapes(name: str, shapes, seed: int) -> None:
    x, y = BINARY[name](np.random.default_rng(seed), *shapes.input_shapes)
    assert_matches_fd(op(name), [x, y], seed=seed)


# ------------------------------------------------------------------------------ the catalogue
def test_every_builtin_op_has_a_family_and_a_one_line_math_doc() -> None:
    for name in al.list_ops():
        op = al.get_op(name)
        if not op.builtin and op.family == "user":
            continue  # (a user's op, registered by another test)
        assert op.family != "user", name
        assert op.doc and "·" in op.doc and "\n" not in op.doc, (name, op.doc)


def test_docs_list_every_op_of_these_families() -> None:
    """docs/ops.md lists every op of the families it details, with its math."""
    from pathlib import Path
    text = (Path(__file__).resolve().parent.parent / "docs" / "ops.md").read_text()
    for family in ("arithmetic", "element-wise", "special functions", "reductions",
                   "neural networks"):
        for name in al.list_ops(family):
            assert f"`{name}(" in text or f", `{name}(" in text, (family, name)
