"""The built-in ops: each one's forward and its vector-Jacobian product (VJP), side by side.

A VJP ``vjp(g, out, *inputs, **attrs)`` maps the gradient ``g`` of the loss with respect to the
op's output ``out`` to the gradient with respect to one input (ops with several inputs list one
VJP per input). VJPs are written with this module's ops, Python operators and the methods that
ndarrays and Tensors share (``.sum``, ``.reshape``, ``.mT``), so the same rule runs on NumPy
arrays in a first-order backward and on Tensors under ``create_graph=True``, which is what makes
every gradient differentiable again. Broadcasting is undone by the engine
(``engine.unbroadcast``), so element-wise VJPs may return the broadcast shape.

Some VJPs build their result in one fresh array with augmented assignment (``grad = 1.0 - out;
grad *= out``): on an ndarray that updates the array the rule just made, saving a temporary the
size of the input; a Tensor defines no in-place operators, so there Python computes
``grad = grad * out`` and the rule stays differentiable. Only ever apply it to a fresh result,
never to ``g``, ``out`` or an input.
"""

from __future__ import annotations

import builtins
import operator
import warnings
from typing import Any

import numpy as np

from autograd_lite.errors import (
    AxisError,
    InputIndexError,
    InputValueError,
    ShapeError,
    TargetWarning,
)
from autograd_lite.explain import (
    Context,
    Latex,
    constant_value,
    last_axis,
    number,
    one_hot_rows,
    product,
    reduction,
)
from autograd_lite.registry import broadcast_failure, register_op
from autograd_lite.tensor import Tensor, raw


def _op(name: str, math: str, forward: Any, *vjps: Any, **options: Any) -> Any:
    """Register a built-in: its name, its math (forward · gradient), forward, one VJP per input;
    ``saves=`` names what the VJPs read (see ``registry.Op``)."""
    return register_op(name, forward, vjps, builtin=True, doc=math, **options)


def _elementwise(name: str, math: str, forward: Any, *vjps: Any, saves: str,
                 **options: Any) -> Any:
    return _op(name, math, forward, *vjps, explain=broadcast_failure, saves=saves, **options)


# --------------------------------------------------------------------------- shape helpers
def check_axis(axis: Any, ndim: int, op: str = "op") -> int:
    """One ``axis`` of an array with ``ndim`` axes, checked and made non-negative: an integer
    (a NumPy integer too; not a bool or a float) from −ndim to ndim − 1. Every op that takes an
    axis checks it here, so a wrong one is an :class:`AxisError`, never wrapped or truncated."""
    if type(axis) is int and -ndim <= axis < ndim:  # (the common case, first)
        return axis + ndim if axis < 0 else axis
    if isinstance(axis, (bool, np.bool_)) or not hasattr(axis, "__index__"):
        raise AxisError(f"{op}: axis must be an integer, got {axis!r} "
                        f"({type(axis).__name__})")
    index = operator.index(axis)
    if not -ndim <= index < ndim:
        valid = f"{-ndim} to {ndim - 1}" if ndim else "none: the input is a scalar"
        raise AxisError(f"{op}: axis {index} is out of range for an input with {ndim} axes "
                        f"(valid: {valid})")
    return index + ndim if index < 0 else index


def _axes(axis: Any, ndim: int, op: str = "op") -> tuple[int, ...]:
    """``axis`` (None, an int or a sequence of ints) as a sorted tuple of non-negative axes,
    each checked by :func:`check_axis`; a repeated axis is refused."""
    if axis is None:
        return tuple(range(ndim))
    if not isinstance(axis, (tuple, list)):
        return (check_axis(axis, ndim, op),)
    axes = tuple(sorted(check_axis(a, ndim, op) for a in axis))
    if len(set(axes)) != len(axes):
        raise AxisError(f"{op}: axis {tuple(axis)!r} repeats an axis")
    return axes


def _keep_reduced(g: Any, ndim: int, axis: Any, keepdims: bool) -> Any:
    """Reshape a reduction's output gradient to keep the reduced axes (as size 1)."""
    if keepdims:
        return g
    reduced = _axes(axis, ndim)
    shape = list(g.shape)
    for a in reduced:
        shape.insert(a, 1)
    return g.reshape(tuple(shape))


def _inverse_permutation(axes: Any, ndim: int) -> Any:
    return None if axes is None else tuple(np.argsort([a % ndim for a in axes]))


def _reduce(ufunc: np.ufunc, doc: str) -> Any:
    """A reduction's forward: ``ufunc.reduce`` over ``axis`` (None: all axes)."""
    name = {np.add: "sum", np.maximum: "max", np.minimum: "min"}.get(ufunc, ufunc.__name__)

    def forward(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        return ufunc.reduce(x, axis=None if axis is None else _axes(axis, np.ndim(x), name),
                            keepdims=keepdims)

    forward.__doc__ = doc
    return forward


# ------------------------------------------------------------------------------ arithmetic
add = _elementwise("add", "x + y  ·  g, g", np.add,
                   lambda g, out, x, y: g,
                   lambda g, out, x, y: g, saves="none",
                   jvp=(lambda t, out, x, y: t, lambda t, out, x, y: t),
                   latex=Latex("$x + $y", "$g", "$g", elementwise=True))
sub = _elementwise("sub", "x − y  ·  g, −g", np.subtract,
                   lambda g, out, x, y: g,
                   lambda g, out, x, y: -g, saves="none",
                   jvp=(lambda t, out, x, y: t, lambda t, out, x, y: -t),
                   latex=Latex("$x - $y", "$g", "-$g", elementwise=True))
mul = _elementwise("mul", "x · y  ·  g·y, g·x", np.multiply,
                   lambda g, out, x, y: g * y,
                   lambda g, out, x, y: g * x, saves="inputs",
                   jvp=(lambda t, out, x, y: t * y, lambda t, out, x, y: x * t),
                   latex=Latex("$x \\circ $y", "$g \\circ $y", "$g \\circ $x", elementwise=True))
def _div_grad_y(g: Any, out: Any, x: Any, y: Any) -> Any:
    """−g·(x/y)/y."""
    grad = -g
    grad *= out
    grad /= y
    return grad


div = _elementwise("div", "x / y  ·  g/y, −g·(x/y)/y", np.true_divide,
                   lambda g, out, x, y: g / y,
                   _div_grad_y, saves="both",
                   jvp=(lambda t, out, x, y: t / y, lambda t, out, x, y: -t * out / y),
                   latex=Latex("\\frac{$x}{$y}", "\\frac{$g}{$y}", "-\\frac{$g \\circ $x}{$y^2}",
                               elementwise=True))
neg = _op("neg", "−x  ·  −g", np.negative,
          lambda g, out, x: -g, saves="none", jvp=(lambda t, out, x: -t,),
          latex=Latex("-$x", "-$g"))


def _pow_base_grad(g: Any, out: Any, x: Any, y: Any) -> Any:
    """d(x^y)/dx = y x^(y-1); exactly 0 for a constant exponent 0."""
    if isinstance(y, (int, float)) and y == 0:
        return g * 0.0
    return g * y * x ** (y - 1)


def _pow_exponent_grad(g: Any, out: Any, x: Any, y: Any) -> Any:
    """d(x^y)/dy = x^y·log x; 0 where x = 0 (x^y is 0 there for y > 0, and log is taken of 1
    instead of 0: as HIPS autograd, PyTorch and JAX)."""
    return g * out * log(x + (raw(x) == 0))


def _number_exponent(ctx: Context) -> bool:
    """x^y is written for a constant exponent only (the language has no x^Y of a tensor Y)."""
    return constant_value(ctx["y"]) is not None


POW = Latex(lambda c: "$x^{$y}" if _number_exponent(c) else None,
            lambda c: "$g \\circ $y \\circ $x^{$y - 1}" if _number_exponent(c) else None,
            None, elementwise=True)


pow = _elementwise("pow", "x^y  ·  g·y·x^(y−1), g·x^y·log x", np.power,
                   _pow_base_grad,
                   _pow_exponent_grad, saves="both",
                   jvp=(_pow_base_grad, _pow_exponent_grad),
                   latex=POW)


# ----------------------------------------------------------------------- element-wise maps
def _sigmoid(x: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """σ(x) = 1 / (1 + e^(−x)), accurate in both tails (relative error about |x|·u); ``out``:
    an array of the result's shape and dtype to write it into (x itself, in a compiled program
    where x dies here).

    Up to 64 elements: e^(−log(1 + e^(−x))) with np.logaddexp, which cannot overflow (the
    fewest NumPy calls; logaddexp costs ~25 ns an element, so beyond ~100 elements it loses).
    Larger arrays: 1 / (1 + e^(−x)) computed in place (the fewest passes over memory), or, when
    some x < −700 would overflow e^(−x), e^(−|x|) / (1 + e^(−|x|)) for x < 0.

    Below 1,024 elements the fixed cost of each call dominates, so the smallest element is
    found by argmin (about a third of the cost of a ufunc reduction at 100 elements) and inverted
    by np.reciprocal (no scalar to convert). From there on the loops' speed dominates: the
    reduction and the division have SIMD loops, which argmin (per element) and reciprocal
    lack (half the speed of dividing at 65,536 elements).
    """
    x = np.asarray(x)
    if x.size <= 64:
        return np.exp(-np.logaddexp(0.0, -x), out=out)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    small = x.size < 1024
    lowest = x.item(x.argmin()) if small else np.minimum.reduce(x, axis=None)  # (NaN if any)
    if lowest < -700.0:
        e = np.exp(-np.abs(x))
        return np.divide(np.where(x >= 0, 1.0, e), 1.0 + e, out=out)
    out = np.negative(x, out=out)
    np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out) if small else np.divide(1.0, out, out=out)


exp = _op("exp", "e^x  ·  g·e^x", np.exp, lambda g, out, x: g * out, saves="output",
          jvp=(lambda t, out, x: t * out,), latex=Latex("\\exp($x)", "$g \\circ \\exp($x)"))
log = _op("log", "log x  ·  g/x", np.log, lambda g, out, x: g / x, saves="inputs",
          jvp=(lambda t, out, x: t / x,), latex=Latex("\\log($x)", "\\frac{$g}{$x}"))
sqrt = _op("sqrt", "√x  ·  g/(2√x)", np.sqrt, lambda g, out, x: g / (2.0 * out),
           saves="output", jvp=(lambda t, out, x: t / (2.0 * out),),
           latex=Latex("\\sqrt{$x}", "\\frac{$g}{2 \\sqrt{$x}}"))
abs = _op("abs", "|x|  ·  g·sign(x)", np.abs, lambda g, out, x: g * np.sign(raw(x)),
          saves="inputs", jvp=(lambda t, out, x: t * np.sign(raw(x)),),
          latex=Latex("\\lvert $x \\rvert", "$g \\circ \\mathrm{sign}($x)"))
def _sigmoid_grad(g: Any, out: Any, x: Any) -> Any:
    """(g ∘ σ) ∘ (1 − σ) (in this order, which a compiled program computes in place)."""
    grad = g * out
    grad *= 1.0 - out
    return grad


def _tanh_grad(g: Any, out: Any, x: Any) -> Any:
    """g·(1 − tanh²)."""
    grad = 1.0 - out * out
    grad *= g
    return grad


sigmoid = _op("sigmoid", "σ(x)  ·  g·σ(x)(1 − σ(x))", _sigmoid, _sigmoid_grad,
              saves="output", jvp=(_sigmoid_grad,),
              latex=Latex("\\sigma($x)", "$g \\circ \\sigma($x) \\circ (1 - \\sigma($x))"))
tanh = _op("tanh", "tanh x  ·  g·(1 − tanh² x)", np.tanh, _tanh_grad, saves="output",
           jvp=(_tanh_grad,), latex=Latex("\\tanh($x)", "$g \\circ (1 - \\tanh($x)^2)"))
def _relu(x: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """max(x, 0), into ``out`` if given (see _sigmoid)."""
    return np.maximum(x, 0, out=out)


relu = _op("relu", "max(x, 0)  ·  g·[x > 0]", _relu,
           lambda g, out, x: g * (raw(out) > 0), saves="output",
           jvp=(lambda t, out, x: t * (raw(out) > 0),),
           latex=Latex("\\mathrm{ReLU}($x)", "$g \\circ \\mathrm{ReLU}'($x)"))


def _astype(x: np.ndarray, dtype: Any) -> np.ndarray:
    """x converted to ``dtype`` (the engine casts gradients to their input's dtype with it)."""
    return x.astype(dtype)


astype = _op("astype", "x as dtype  ·  g as x's dtype", _astype,
             lambda g, out, x, dtype: astype(g, dtype=x.dtype), saves="inputs", inputs=1,
             jvp=(lambda t, out, x, dtype: astype(t, dtype=dtype),))


# ------------------------------------------------------------------------------ reductions
def _spread(g: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """A reduction's output gradient (or tangent) broadcast back over the reduced axes."""
    return broadcast_to(_keep_reduced(g, x.ndim, axis, keepdims), shape=x.shape)


def _sum_grad(g: Any, out: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Each summed element gets the gradient of its sum."""
    return _spread(g, x, axis, keepdims)


def _tie_share(hit: Any, axes: tuple[int, ...]) -> Any:
    """A mask of the extreme elements over ``axes``, each with an equal share of 1 (ties
    share)."""
    return hit / hit.sum(axis=axes, keepdims=True)


def _mean_grad(g: Any, out: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    count = int(np.prod([x.shape[a] for a in _axes(axis, x.ndim)]))
    return _sum_grad(g / count, out, x, axis, keepdims)


def _extremum_grad(g: Any, out: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The gradient goes to the extreme element; ties share it equally."""
    hit = raw(x) == raw(_keep_reduced(out, x.ndim, axis, keepdims))
    return _keep_reduced(g, x.ndim, axis, keepdims) * _tie_share(hit, _axes(axis, x.ndim))


def _extremum_jvp(t: Any, out: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The tangent of the extreme element (the mean of the tied ones' tangents)."""
    hit = raw(x) == raw(_keep_reduced(out, x.ndim, axis, keepdims))
    return sum(t * _tie_share(hit, _axes(axis, x.ndim)), axis=axis, keepdims=keepdims)


def _mean(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    """The arithmetic mean; refused over zero elements (it would be NaN)."""
    axes = _axes(axis, np.ndim(x), "mean")
    if any(np.shape(x)[a] == 0 for a in axes):
        raise InputValueError(f"mean: the mean over axis {axis} of an array of shape "
                              f"{np.shape(x)} averages zero elements and is undefined; check "
                              "for an empty batch, or use sum")
    count = int(np.prod([np.shape(x)[a] for a in axes]))
    return np.add.reduce(x, axis=axes, keepdims=keepdims) / count


sum = _op("sum", "Σ x over axis  ·  g copied to every summed element",
          _reduce(np.add, "Σ x over axis."), _sum_grad, saves="inputs",
          jvp=(lambda t, out, x, axis=None, keepdims=False: sum(t, axis=axis, keepdims=keepdims),),
          latex=reduction(mean=False))
mean = _op("mean", "Σ x / n over axis  ·  g / n to every element", _mean, _mean_grad,
           saves="inputs",
           jvp=(lambda t, out, x, axis=None, keepdims=False:
                    mean(t, axis=axis, keepdims=keepdims),), latex=reduction(mean=True))
max = _op("max", "max x over axis  ·  g to the largest (ties share)",
          _reduce(np.maximum, "The largest element along axis."), _extremum_grad,
          jvp=(_extremum_jvp,))
min = _op("min", "min x over axis  ·  g to the smallest (ties share)",
          _reduce(np.minimum, "The smallest element along axis."), _extremum_grad,
          jvp=(_extremum_jvp,))


def _logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    """log Σ e^x, computed as m + log Σ e^(x − m) with m the maximum (no overflow)."""
    axes = _axes(axis, np.ndim(x), "logsumexp")
    m = np.max(x, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    out = m + np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axes)


logsumexp = _op("logsumexp", "log Σ e^x over axis  ·  g·softmax(x)", _logsumexp,
                lambda g, out, x, axis=None, keepdims=False:
                    _keep_reduced(g, x.ndim, axis, keepdims)
                    * exp(x - _keep_reduced(out, x.ndim, axis, keepdims)),
                jvp=(lambda t, out, x, axis=None, keepdims=False:
                         sum(t * exp(x - _keep_reduced(out, x.ndim, axis, keepdims)),
                             axis=axis, keepdims=keepdims),))


# -------------------------------------------------------------------------- shape changes
reshape = _op("reshape", "x in a new shape  ·  g in x's shape",
              lambda x, shape: np.reshape(x, shape),
              lambda g, out, x, shape: g.reshape(x.shape), saves="inputs", inputs=1,
              jvp=(lambda t, out, x, shape: reshape(t, shape=shape),))
def _matrix_transpose(ctx: Context) -> bool:
    """A matrix transposed. (A reshape or transpose that leaves the row-vector shape as it is
    would be written x itself, which the checker takes for x: it stays generic.)"""
    return ctx.ndim("x") == 2 and ctx.settings.get("axes") in (None, (1, 0), [1, 0])


TRANSPOSE = Latex(lambda c: "$x^\\top" if _matrix_transpose(c) else None,
                  lambda c: "$g^\\top" if _matrix_transpose(c) else None)


transpose = _op("transpose", "x with axes permuted  ·  g with the inverse permutation",
                lambda x, axes=None: np.transpose(x, axes),
                lambda g, out, x, axes=None:
                    transpose(g, axes=_inverse_permutation(axes, x.ndim)), saves="inputs",
                jvp=(lambda t, out, x, axes=None: transpose(t, axes=axes),), latex=TRANSPOSE)
broadcast_to = _op("broadcast_to", "x repeated to shape  ·  g summed over the copies",
                   lambda x, shape: np.broadcast_to(x, shape),
                   lambda g, out, x, shape: g,  # the engine sums the copies back
                   saves="none", inputs=1,
                   jvp=(lambda t, out, x, shape: broadcast_to(t, shape=shape),),
                   explain=lambda x, shape: ShapeError(
                       f"shape {np.shape(x)} cannot be broadcast to {shape}"))


def normalize_index(index: Any) -> Any:
    """An index for ``getitem``: tensors and lists become arrays; floats are refused."""
    if isinstance(index, tuple):
        return tuple(normalize_index(i) for i in index)
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, list):
        index = np.asarray(index)
    if isinstance(index, np.ndarray) and index.dtype.kind not in "iub":
        raise InputIndexError(
            f"getitem: index arrays must hold integers or booleans, got dtype {index.dtype}; "
            "convert labels with .astype(int)."
        )
    if isinstance(index, float):
        raise InputIndexError(f"getitem: index {index!r} is a float; indices must be integers")
    return index


def _is_basic(index: Any) -> bool:
    """True when every element is selected at most once (no integer-array indexing)."""
    parts = index if isinstance(index, tuple) else (index,)
    return not builtins.any(isinstance(p, np.ndarray) and p.dtype.kind != "b" for p in parts)


def _scatter_add(g: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
    """zeros(shape) with g added at ``index``; repeated indices accumulate."""
    out = np.zeros(shape, dtype=np.result_type(g))
    if _is_basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


def _index_kind(ctx: Context) -> str | None:
    """getitem by one integer ("int") or a 1-D array of integers ("array") on the first axis of
    a vector or a matrix: a product with one-hot rows; anything else None."""
    index = np.asarray(raw(ctx.settings.get("index")))
    if index.dtype.kind not in "iu" or ctx.ndim("x") not in (1, 2):
        return None
    return {0: "int", 1: "array"}.get(index.ndim)


def _selector(ctx: Context) -> str | None:
    """The one-hot constant E of the rows picked: 1 × n for one index, K × n for K."""
    kind = _index_kind(ctx)
    if kind is None:
        return None
    rows = 1 if kind == "int" else int(np.size(ctx.settings.get("index")))
    return ctx.one_hot("index", (rows, ctx.shapes["x"][0]))


def _getitem_forward(ctx: Context) -> str | None:
    e = _selector(ctx)
    if e is None:
        return None
    return f"{e} $x" if ctx.ndim("x") == 2 else f"$x {e}^\\top"


def _getitem_gradient(ctx: Context) -> str | None:
    e = _selector(ctx)
    if e is None:
        return None
    return f"{e}^\\top $g" if ctx.ndim("x") == 2 else f"$g {e}"


# x[o] = e x (one-hot row e) for a matrix, x eᵀ for a vector; the gradient adds g back at o.
GETITEM = Latex(_getitem_forward, _getitem_gradient)


getitem = _op("getitem", "x[index]  ·  g added back at index (repeats accumulate)",
              lambda x, index: x[index],
              lambda g, out, x, index: scatter_add(g, index=index, shape=x.shape),
              saves="inputs", inputs=1, jvp=(lambda t, out, x, index: getitem(t, index=index),),
              latex=GETITEM, array_settings=True)
scatter_add = _op("scatter_add", "zeros(shape) with x added at index  ·  g[index]",
                  _scatter_add,
                  lambda g, out, x, index, shape: getitem(g, index=index), saves="none",
                  inputs=1, jvp=(lambda t, out, x, index, shape:
                                     scatter_add(t, index=index, shape=shape),),
                  array_settings=True)


def _stack_forward(*xs: np.ndarray, axis: int = 0) -> np.ndarray:
    """Join arrays along a new axis."""
    check_axis(axis, np.ndim(xs[0]) + 1 if xs else 1, "stack")
    return np.stack(xs, axis=axis)


def _concatenate_forward(*xs: np.ndarray, axis: int = 0) -> np.ndarray:
    """Join arrays along an existing axis."""
    check_axis(axis, np.ndim(xs[0]) if xs else 1, "concatenate")
    return np.concatenate(xs, axis=axis)


def _split_grad(g: Any, out: Any, *xs: Any, axis: int = 0, new_axis: bool) -> tuple[Any, ...]:
    """Each input gets its own slice of the joined gradient."""
    axis = axis % out.ndim
    grads, start = [], 0
    for x in xs:
        width = 1 if new_axis else x.shape[axis]
        where = (slice(None),) * axis + ((start if new_axis else slice(start, start + width)),)
        grads.append(getitem(g, index=where))
        start += width
    return tuple(grads)


def _tangents_or_zeros(tangents: Any, xs: Any, out: Any) -> tuple[Any, ...]:
    """The inputs' tangents, zeros for those without one (a join's JVP joins them)."""
    return tuple(np.zeros(np.shape(x), dtype=out.dtype) if t is None else t
                 for t, x in zip(tangents, xs))


stack = register_op(  # variadic: one VJP for all inputs
    "stack", _stack_forward,
    lambda g, out, *xs, axis=0: _split_grad(g, out, *xs, axis=axis, new_axis=True),
    builtin=True, doc="x₁, x₂, … joined on a new axis  ·  each gets its slice of g",
    jvp=lambda ts, out, *xs, axis=0: stack(_tangents_or_zeros(ts, xs, out), axis=axis))
concatenate = register_op(
    "concatenate", _concatenate_forward,
    lambda g, out, *xs, axis=0: _split_grad(g, out, *xs, axis=axis, new_axis=False),
    builtin=True, doc="x₁, x₂, … joined on an existing axis  ·  each gets its slice of g",
    jvp=lambda ts, out, *xs, axis=0: concatenate(_tangents_or_zeros(ts, xs, out), axis=axis))
stack.take_sequence()  # stack([a, b], axis=0), as NumPy
concatenate.take_sequence()


# ---------------------------------------------------------------------------------- matmul
def _as_matrices(g: Any, a: Any, b: Any) -> tuple[Any, Any, Any]:
    """Promote 1-D operands to matrices as np.matmul does ((k,) -> (1,k) or (k,1)), and the
    output gradient with them."""
    if a.ndim == 1:
        a = a.reshape((1, a.shape[0]))
        g = g.reshape((*g.shape[:-1], 1, *g.shape[-1:]))
    if b.ndim == 1:
        b = b.reshape((b.shape[0], 1))
        g = g.reshape((*g.shape, 1))
    return g, a, b


def _matmul_grad_a(g: Any, out: Any, a: Any, b: Any) -> Any:
    """dA = G Bᵀ (batch axes are summed back by the engine)."""
    if a.ndim > 1 and b.ndim > 1:
        return g @ b.mT
    g2, _, b2 = _as_matrices(g, a, b)
    grad = g2 @ b2.mT
    return grad.reshape((*grad.shape[:-2], a.shape[0])) if a.ndim == 1 else grad


def _matmul_grad_b(g: Any, out: Any, a: Any, b: Any) -> Any:
    """dB = Aᵀ G."""
    if a.ndim > 1 and b.ndim > 1:
        return a.mT @ g
    g2, a2, _ = _as_matrices(g, a, b)
    grad = a2.mT @ g2
    return grad.reshape((*grad.shape[:-2], b.shape[0])) if b.ndim == 1 else grad


def _matmul_failure(a: Any, b: Any) -> ShapeError | None:
    sa, sb = np.shape(a), np.shape(b)
    if len(sa) == 0 or len(sb) == 0:
        return ShapeError(f"shapes {sa} @ {sb}: matmul needs arrays with at least one "
                          "axis; multiply by a scalar with * instead.")
    inner_a, inner_b = sa[-1], sb[-2] if len(sb) > 1 else sb[0]
    if inner_a != inner_b:
        hint = (" Did you mean to transpose an operand (e.g. x @ W.T)?"
                if inner_a in (sb[-1], sb[0]) or inner_b == (sa[-2] if len(sa) > 1 else None)
                else "")
        return ShapeError(f"inner dimensions differ in {sa} @ {sb}: {inner_a} != "
                          f"{inner_b}. The last axis of the left operand must match the "
                          f"second-to-last axis of the right one.{hint}")
    return ShapeError(f"the batch axes of {sa} and {sb} do not broadcast "
                      f"({sa[:-2]} vs {sb[:-2]}).")


matmul = _op("matmul", "A B (np.matmul)  ·  G Bᵀ, Aᵀ G", np.matmul, _matmul_grad_a, _matmul_grad_b,
             explain=_matmul_failure, saves="inputs",
             jvp=(lambda t, out, a, b: t @ b, lambda t, out, a, b: a @ t), latex=product())


# ------------------------------------------------------------------- softmax and its kin
def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """softmax(x)_i = e^(x_i − m) / Σ_j e^(x_j − m), m = max_j x_j (shift-invariant, stable)."""
    axis = check_axis(axis, np.ndim(x), "softmax")
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """log softmax(x)_i = (x_i − m) − log Σ_j e^(x_j − m)."""
    axis = check_axis(axis, np.ndim(x), "log_softmax")
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _softmax_grad(g: Any, out: Any, x: Any, axis: int = -1) -> Any:
    """p ∘ (g − Σ g∘p)."""
    grad = g * out
    grad -= out * grad.sum(axis=axis, keepdims=True)
    return grad


SOFTMAX = Latex(
    lambda c: "\\mathrm{softmax}($x)" if last_axis(c) else None,
    lambda c: "\\mathrm{softmax}($x) \\circ ($g - ($g \\circ \\mathrm{softmax}($x)) "
              "\\mathbf{1})" if last_axis(c) else None)
LOG_SOFTMAX = Latex(
    lambda c: "\\log \\mathrm{softmax}($x)" if last_axis(c) else None,
    lambda c: "$g - \\mathrm{softmax}($x) \\circ ($g \\mathbf{1})" if last_axis(c)
    else None)


softmax = _op("softmax", "p = e^x / Σ e^x  ·  p ∘ (g − Σ g∘p)", _softmax, _softmax_grad,
              saves="output", jvp=(_softmax_grad,), latex=SOFTMAX)
def _log_softmax_grad(g: Any, out: Any, x: Any, axis: int = -1) -> Any:
    """g − softmax(x)·Σ g, with softmax(x) = e^out."""
    grad = exp(out)
    grad *= -g.sum(axis=axis, keepdims=True)
    grad += g
    return grad


log_softmax = _op("log_softmax", "x − log Σ e^x  ·  g − softmax(x)·Σ g", _log_softmax,
                  _log_softmax_grad, saves="output",
                  jvp=(lambda t, out, x, axis=-1: t - sum(exp(out) * t, axis=axis, keepdims=True),),
                  latex=LOG_SOFTMAX)


_UNSIGNED = {np.dtype(f"i{n}"): np.dtype(f"u{n}") for n in (1, 2, 4, 8)}  # native ints


def _out_of_range(target: np.ndarray, classes: int) -> bool:
    """Whether some class index is negative or not below ``classes``. Read as unsigned, a
    negative index is huge, so for native signed integers one maximum finds both kinds (found
    by argmax: about a third of the cost of a ufunc reduction for a batch of labels)."""
    unsigned = _UNSIGNED.get(target.dtype)
    if unsigned is not None:
        as_unsigned = target.view(unsigned)
        return as_unsigned.item(as_unsigned.argmax()) >= classes
    return bool(np.minimum.reduce(target, axis=None) < 0
                or np.maximum.reduce(target, axis=None) >= classes)


def _target_kind(logits: np.ndarray, target: np.ndarray, axis: int) -> bool:
    """What a cross-entropy target's shape and dtype say: True for class indices, False for
    probabilities (anything else is refused)."""
    rows_shape = logits.shape[:axis] + logits.shape[axis + 1:]
    if target.shape == rows_shape and target.dtype.kind in "iu":
        return True
    if target.shape == rows_shape and target.dtype.kind in "fb":
        raise InputValueError(
            f"softmax_cross_entropy: the target has the shape of class indices {rows_shape} but "
            f"dtype {target.dtype}; class indices must be integers (use .astype(int)), or give "
            f"probabilities of the logits' shape {logits.shape}."
        )
    if target.shape == logits.shape and target.dtype.kind == "f":
        return False
    raise ShapeError(
        f"softmax_cross_entropy: target of shape {target.shape} (dtype {target.dtype}) fits "
        f"neither convention for logits of shape {logits.shape} with class axis {axis}: give "
        f"integer class indices of shape {rows_shape} or probabilities of shape {logits.shape}."
    )


def _check_target_values(logits: np.ndarray, target: np.ndarray, axis: int,
                         indices: bool) -> None:
    """Class indices must be in range (refused); probabilities should be non-negative rows
    summing to 1 (a warning: the loss is still defined)."""
    classes = logits.shape[axis]
    if indices:
        if target.size and _out_of_range(target, classes):
            bad = target[(target < 0) | (target >= classes)]
            raise InputValueError(
                f"softmax_cross_entropy: class index {bad.flat[0]} is out of range for "
                f"{classes} classes (valid: 0 to {classes - 1}); logits shape {logits.shape}, "
                f"class axis {axis}."
            )
        return
    sums = target.sum(axis=axis)
    tolerance = np.sqrt(np.finfo(target.dtype).eps)
    if (target < 0).any() or not np.allclose(sums, 1.0, rtol=0, atol=tolerance):
        warnings.warn(
            "softmax_cross_entropy: probability targets should be non-negative with rows "
            f"summing to 1 (row sums range {sums.min():.6g} to {sums.max():.6g}); the loss "
            "−Σ y log softmax(x) and its gradient softmax(x)·Σy − y are still computed "
            "exactly, but check that these are probabilities and not scores or counts.",
            TargetWarning, stacklevel=6)


_REDUCTIONS = ("mean", "sum", "none")


def _class_positions(shape: tuple[int, ...], target: np.ndarray, axis: int) -> np.ndarray:
    """Where each row's target class sits among the elements of an array of ``shape`` in C
    order: ``x.reshape(-1)[positions]`` picks them from a C-contiguous ``x``. (One flat index
    costs about half of a fancy index by rows and classes, and this is on every step.)"""
    classes, target = shape[axis], target.astype(np.intp, copy=False)  # (any integer type)
    if axis == len(shape) - 1:  # (row r's classes start at r·classes)
        return np.add(np.arange(0, target.size * classes, classes).reshape(target.shape),
                      target)
    grids = np.indices(target.shape, sparse=True)
    return np.ravel_multi_index((*grids[:axis], target, *grids[axis:]), shape)


def _ce_settings(logits: Any, target: Any, axis: Any = -1, reduction: Any = "mean"
                 ) -> dict[str, Any]:
    """What the shapes, dtypes and settings decide, checked once: the class axis (from 0), the
    reduction, and whether the target holds class indices (else probabilities)."""
    if reduction not in _REDUCTIONS:
        raise InputValueError(f"softmax_cross_entropy: reduction must be one of {_REDUCTIONS}, "
                              f"got {reduction!r}")
    logits, target = np.asarray(logits), np.asarray(target)
    if logits.ndim == 0:
        raise ShapeError("softmax_cross_entropy: logits must have a class axis, got a scalar")
    axis = check_axis(axis, logits.ndim, "softmax_cross_entropy")
    return {"axis": axis, "reduction": reduction,
            "indices": _target_kind(logits, target, axis)}


def _softmax_cross_entropy(logits: np.ndarray, target: Any, axis: int = -1, reduction: str = "mean"
                           ) -> tuple[np.ndarray, tuple[Any, ...]]:
    """CE = −Σ_i y_i log softmax(x)_i per row, reduced by mean, sum or none; also returns
    ([e^(x − max)], Σ e^(x − max), the target classes' positions or None) for the VJP: the
    quotient is softmax(x), formed only if a backward pass needs it, in the exponentials'
    buffer, which the VJP takes out of its list. Computed through log-sum-exp, so huge logits
    stay finite."""
    return _ce_forward(np.asarray(logits), np.asarray(target),
                       **_ce_settings(logits, target, axis, reduction))


def _ce_forward(logits: np.ndarray, target: np.ndarray, *, axis: int, reduction: str,
                indices: bool) -> tuple[np.ndarray, tuple[Any, ...]]:
    """The cross-entropy for settings :func:`_ce_settings` checked (what a compiled program
    calls): only the target's values are checked here."""
    _check_target_values(logits, target, axis, indices)
    shifted = logits - np.maximum.reduce(logits, axis=axis, keepdims=True)
    positions = None
    if indices:  # the target classes' shifted logits picked first: e^shifted in their buffer
        positions = _class_positions(logits.shape, target, axis)
        picked = shifted.reshape(-1)[positions]
        e = np.exp(shifted, out=shifted)
        total = np.add.reduce(e, axis=axis, keepdims=True)
        losses = np.log(total).reshape(target.shape) - picked
    else:
        e = np.exp(shifted)
        total = np.add.reduce(e, axis=axis, keepdims=True)
        losses = -np.add.reduce(target * (shifted - np.log(total)), axis=axis)
    if reduction == "mean":
        if losses.size == 0:
            raise InputValueError("softmax_cross_entropy: reduction='mean' over zero rows is "
                                  "undefined; check for an empty batch or use reduction='sum'")
        return np.add.reduce(losses, axis=None) / losses.size, ([e], total, positions)
    if reduction == "sum":
        return np.add.reduce(losses, axis=None), ([e], total, positions)
    return losses, ([e], total, positions)


def _per_row(g: Any, logits: Any, axis: int, reduction: str) -> Any:
    """The output gradient as a factor per row of the logits (keeping the class axis)."""
    if reduction == "none":
        return g.reshape((*g.shape[:axis], 1, *g.shape[axis:]))
    if reduction == "mean":
        return g / (logits.size // logits.shape[axis])
    return g


def _probs_minus_target(probs: Any, target: np.ndarray, axis: int, positions: Any) -> Any:
    """softmax(x)·Σy − y: the gradient of −Σ y log softmax(x) per unit of output gradient.
    ``probs`` is a fresh result (a C-contiguous array is changed in place); ``positions``,
    the target classes' flat positions if the forward kept them."""
    if target.shape != probs.shape:  # class indices: y is one-hot
        if positions is None:
            positions = _class_positions(probs.shape, target, axis)
        if isinstance(probs, np.ndarray) and probs.flags.c_contiguous:  # (reshape: a view)
            probs.reshape(-1)[positions] -= 1  # a first-order backward: in place
            return probs
        one_hot = np.zeros(probs.shape, dtype=probs.dtype)
        one_hot.reshape(-1)[positions] = 1
        return probs - one_hot
    return probs * target.sum(axis=axis, keepdims=True) - target


def _ce_grad_logits(g: Any, out: Any, logits: Any, target: Any, axis: int = -1,
                    reduction: str = "mean", residual: Any = None) -> Any:
    axis = axis % logits.ndim
    if residual is not None and residual[0]:  # the forward's exponentials, taken (once)
        exponentials, total, positions = residual
        probs = exponentials.pop()
        probs /= total
    else:  # under create_graph, or a retained graph's second backward pass: recomputed
        probs, positions = softmax(logits, axis=axis), None
    # (a probability target that is a tensor stays one under create_graph: the second order
    # in the target flows through this term too)
    y = target if isinstance(target, Tensor) and target.dtype.kind == "f" else np.asarray(
        raw(target))
    grad = _probs_minus_target(probs, y, axis, positions)
    grad *= _per_row(g, logits, axis, reduction)
    return grad


def _ce_grad_target(g: Any, out: Any, logits: Any, target: Any, axis: int = -1,
                    reduction: str = "mean", residual: Any = None) -> Any:
    axis = axis % logits.ndim
    return -log_softmax(logits, axis=axis) * _per_row(g, logits, axis, reduction)


def _reduced_rows(per_element: Any, logits: Any, axis: int, reduction: str) -> Any:
    """Σ over the class axis of a per-element tangent, then the loss's reduction over rows."""
    rows = sum(per_element, axis=axis)
    if reduction == "none":
        return rows
    total = sum(rows)
    return total / (logits.size // logits.shape[axis]) if reduction == "mean" else total


def _ce_jvp_logits(t: Any, out: Any, logits: Any, target: Any, axis: int = -1,
                   reduction: str = "mean") -> Any:
    """Σ_i (softmax(x)_i·Σy − y_i)·ṫ_i per row, reduced like the loss."""
    axis = axis % logits.ndim
    if type(target) is not Tensor or target.shape != logits.shape:  # (see _ce_grad_logits)
        target = np.asarray(raw(target))
    grad = _probs_minus_target(softmax(logits, axis=axis), target, axis, None)
    return _reduced_rows(grad * t, logits, axis, reduction)


def _ce_jvp_target(t: Any, out: Any, logits: Any, target: Any, axis: int = -1,
                   reduction: str = "mean") -> Any:
    """−Σ_i ṫ_i log softmax(x)_i per row, reduced like the loss."""
    axis = axis % logits.ndim
    return _reduced_rows(-log_softmax(logits, axis=axis) * t, logits, axis, reduction)


def _cross_entropy_case(ctx: Context) -> str | None:
    """The scale of a softmax cross-entropy with one-hot (or soft) targets of the logits'
    shape: "" for a sum, "\\frac{1}{N} " for a mean over N rows; None otherwise."""
    reduction_ = ctx.settings.get("reduction", "mean")
    if ctx.shapes["target"] != ctx.shapes["logits"] or not last_axis(ctx, "logits") or \
            reduction_ not in ("sum", "mean"):
        return None
    rows = int(np.prod(ctx.shapes["logits"][:-1]))
    return f"{number(1 / rows)} " if reduction_ == "mean" and rows > 1 else ""


def _cross_entropy_gradient(ctx: Context) -> str | None:
    """(softmax(x) Σ_k y_k − y), scaled; ŷ − y for one-hot labels (Σ_k y_k = 1)."""
    scale = _cross_entropy_case(ctx)
    if scale is None:
        return None
    rows = "" if one_hot_rows(ctx.values.get("target")) else " \\circ ($target \\mathbf{1})"
    return f"$g \\circ {scale}(\\mathrm{{softmax}}($logits){rows} - $target)"


CROSS_ENTROPY = Latex(
    lambda c: None if (k := _cross_entropy_case(c)) is None else
    f"{k}CE($target, \\mathrm{{softmax}}($logits))",
    _cross_entropy_gradient,
    lambda c: None if (k := _cross_entropy_case(c)) is None else
    f"$g \\circ {k}(-\\log \\mathrm{{softmax}}($logits))")


softmax_cross_entropy = _op("softmax_cross_entropy",
                            "−Σ y log softmax(x), reduced  ·  (softmax(x)·Σy − y) · g / rows",
                            _softmax_cross_entropy,
                            _ce_grad_logits, _ce_grad_target, residual=True, saves="inputs",
                            jvp=(_ce_jvp_logits, _ce_jvp_target), latex=CROSS_ENTROPY,
                            specialize=lambda *args, **settings: (
                                _ce_forward, _ce_settings(*args, **settings)))


# How `autograd-lite ops` groups the built-ins above.
_FAMILIES = {
    "arithmetic": ("add", "sub", "mul", "div", "neg", "pow"),
    "element-wise": ("exp", "log", "sqrt", "abs", "sigmoid", "tanh", "relu", "astype"),
    "reductions": ("sum", "mean", "max", "min", "logsumexp"),
    "shape and indexing": ("reshape", "transpose", "broadcast_to", "getitem", "scatter_add",
                           "stack", "concatenate"),
    "products": ("matmul",),
    "neural networks": ("softmax", "log_softmax", "softmax_cross_entropy"),
}
for _family, _names in _FAMILIES.items():
    for _name in _names:
        globals()[_name].family = _family
