"""Reductions and scans with NumPy's names and signatures: prod, var, std, cumsum, cumprod, diff,
trace and average (sum, mean, max/amax, min/amin and logsumexp are built-ins in ops.py).

Each op's VJP and JVP are built from differentiable ops, so the second order works. Arguments a
tape cannot honour (``dtype=``, ``out=``) are part of the signature, so positions match NumPy's
(``var(a, axis, dtype, out, ddof)``), and are refused when given.

Zeros: ``prod`` and ``cumprod`` divide by the input only where no element is 0; otherwise the
gradient is the product of the other elements, formed without division, so it is exact at zeros.
``std`` at zero spread (all elements equal) has gradient 0 (the square root's kink; JAX and
PyTorch give NaN there).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_lite.elementwise import where
from autograd_lite.errors import InputValueError, SignatureError
from autograd_lite.ops import (
    _axes,
    _keep_reduced,
    _spread,
    broadcast_to,
    concatenate,
    getitem,
    mean,
    reshape,
    sum,
    transpose,
)
from autograd_lite.registry import register_op
from autograd_lite.tensor import raw

FAMILY = "reductions"


def _op(name: str, math_doc: str, forward: Any, vjp: Any, jvp: Any, saves: str, **options: Any
        ) -> Any:
    return register_op(name, forward, (vjp,), jvp=(jvp,), builtin=True, doc=math_doc,
                       saves=saves, family=FAMILY, **options)


def _no_dtype_out(name: str, dtype: Any, out: Any) -> None:
    if dtype is not None or out is not None:
        given = "dtype=" if dtype is not None else "out="
        raise SignatureError(f"{name}: '{given}' cannot be recorded on a tape; cast the input "
                             "with .astype(...) first, and assign the result instead of out=")


def _count(shape: tuple[int, ...], axis: Any) -> int:
    """How many elements a reduction over ``axis`` combines."""
    count = 1
    for a in _axes(axis, len(shape)):
        count *= shape[a]
    return count


def _fold(t: Any, axis: Any, keepdims: bool) -> Any:
    """A tangent summed over the reduced axes (the JVP of a reduction's linear part)."""
    return sum(t, axis=_axes(axis, t.ndim), keepdims=keepdims)


# ------------------------------------------------------------------------------- prod
def _prod(a: np.ndarray, axis: Any = None, dtype: Any = None, out: Any = None,
          keepdims: bool = False) -> np.ndarray:
    """Π a over axis."""
    _no_dtype_out("prod", dtype, out)
    return np.multiply.reduce(a, axis=_axes(axis, np.ndim(a), "prod"), keepdims=keepdims)


def _exclusive_cumprod(x: Any, axis: int) -> Any:
    """Π of the elements before each one along ``axis`` (1 for the first), without division."""
    n = x.shape[axis]
    ones = np.ones(x.shape[:axis] + (1,) + x.shape[axis + 1:], dtype=raw(x).dtype)
    head = getitem(x, index=(slice(None),) * axis + (slice(0, n - 1),))
    return cumprod(concatenate([ones, head], axis=axis), axis=axis)


def _others_product(x: Any, axis: Any) -> Any:
    """Π of all the other elements of each element's reduced group (exact where x has zeros):
    the reduced axes are moved last and flattened, then products before × products after."""
    axes = _axes(axis, x.ndim)
    kept = [a for a in range(x.ndim) if a not in axes]
    order = (*kept, *axes)
    moved = transpose(x, axes=order) if order != tuple(range(x.ndim)) else x
    flat = reshape(moved, shape=(*[x.shape[a] for a in kept], -1))
    before = _exclusive_cumprod(flat, flat.ndim - 1)
    reversed_ = (slice(None),) * (flat.ndim - 1) + (slice(None, None, -1),)
    after = getitem(_exclusive_cumprod(getitem(flat, index=reversed_), flat.ndim - 1),
                    index=reversed_)
    others = reshape(before * after, shape=moved.shape)
    return transpose(others, axes=tuple(np.argsort(order))) if moved is not x else others


def _nonzero_finite(value: Any) -> bool:
    array = raw(value)
    return bool(np.all(array != 0) and np.all(np.isfinite(array)))


def _prod_derivative(out: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """∂Π/∂x_i = Π_{j≠i} x_j: out/x where no product is 0 or ∞ (so no x is 0, and nothing
    under- or overflowed), the product of the others, formed without division, otherwise."""
    if x.size and _nonzero_finite(out):
        return _spread(out, x, axis, keepdims) / x
    return _others_product(x, axis)


prod = _op("prod", "Π x over axis  ·  g·Π of the other elements (exact at zeros)", _prod,
           lambda g, y, x, axis=None, keepdims=False, **_:
               _spread(g, x, axis, keepdims) * _prod_derivative(y, x, axis, keepdims),
           lambda t, y, x, axis=None, keepdims=False, **_:
               _fold(t * _prod_derivative(y, x, axis, keepdims), axis, keepdims),
           saves="both")


# ------------------------------------------------------------------------------- var, std
def _check_ddof(name: str, shape: tuple[int, ...], axis: Any, ddof: Any) -> int:
    n = _count(shape, axis)
    if n - ddof <= 0:
        raise InputValueError(
            f"{name}: {n} element(s) over axis {axis} of shape {shape} with ddof={ddof} leave "
            f"{n - ddof} degrees of freedom; the result would be NaN or infinite. Use a smaller "
            "ddof or reduce over more elements.")
    return n


def _variance(name: str, a: np.ndarray, axis: Any, ddof: Any, keepdims: bool) -> np.ndarray:
    """Σ (a − mean)² / (n − ddof) over axis, in two passes (as np.var, without its overhead)."""
    a = np.asarray(a)
    axes = _axes(axis, a.ndim, name)
    n = _check_ddof(name, a.shape, axis, ddof)
    centered = a - np.add.reduce(a, axis=axes, keepdims=True) / n
    centered *= centered
    return np.add.reduce(centered, axis=axes, keepdims=keepdims) / (n - ddof)


def _var(a: np.ndarray, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
         keepdims: bool = False) -> np.ndarray:
    """Σ (a − mean)² / (n − ddof) over axis."""
    _no_dtype_out("var", dtype, out)
    return _variance("var", a, axis, ddof, keepdims)


def _std(a: np.ndarray, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
         keepdims: bool = False) -> np.ndarray:
    """√var over axis."""
    _no_dtype_out("std", dtype, out)
    return np.sqrt(_variance("std", a, axis, ddof, keepdims))


def _centered(x: Any, axis: Any, ddof: Any) -> Any:
    """2(x − mean)/(n − ddof): ∂var/∂x."""
    n = _count(x.shape, axis)
    return (x - mean(x, axis=_axes(axis, x.ndim), keepdims=True)) * (2.0 / (n - ddof))


def _std_derivative(out: Any, x: Any, axis: Any, ddof: Any, keepdims: bool) -> Any:
    """∂std/∂x = (x − mean)/((n − ddof)·std); 0 where std = 0."""
    spread = _keep_reduced(out, x.ndim, axis, keepdims)
    zero = raw(spread) == 0
    return where(zero, 0.0, _centered(x, axis, ddof) / (2.0 * where(zero, 1.0, spread)))


var = _op("var", "Σ(x − x̄)²/(n − ddof)  ·  g·2(x − x̄)/(n − ddof)", _var,
          lambda g, y, x, axis=None, ddof=0, keepdims=False, **_:
              _spread(g, x, axis, keepdims) * _centered(x, axis, ddof),
          lambda t, y, x, axis=None, ddof=0, keepdims=False, **_:
              _fold(t * _centered(x, axis, ddof), axis, keepdims),
          saves="inputs")
std = _op("std", "√var  ·  g·(x − x̄)/((n − ddof)·std) (0 where std = 0)", _std,
          lambda g, y, x, axis=None, ddof=0, keepdims=False, **_:
              _spread(g, x, axis, keepdims) * _std_derivative(y, x, axis, ddof, keepdims),
          lambda t, y, x, axis=None, ddof=0, keepdims=False, **_:
              _fold(t * _std_derivative(y, x, axis, ddof, keepdims), axis, keepdims),
          saves="both")


# ------------------------------------------------------------------------------- scans
def _scan_axis(x: Any, axis: Any) -> tuple[Any, int]:
    """NumPy's scans flatten the input when axis is None."""
    if axis is None:
        return reshape(x, shape=(-1,)), 0
    return x, int(axis) % x.ndim if x.ndim else 0


def _cumsum(a: np.ndarray, axis: Any = None, dtype: Any = None, out: Any = None) -> np.ndarray:
    """Running sums along axis (of the flattened array if axis is None)."""
    _no_dtype_out("cumsum", dtype, out)
    return np.cumsum(a, axis=axis)


def _reverse_cumsum(g: Any, axis: int) -> Any:
    """Σ_{k ≥ i} g_k along axis (the transpose of cumsum), summed from the end: reversed, running
    sums, reversed back (not total − running sum, which cancels when magnitudes differ)."""
    reverse = (slice(None),) * axis + (slice(None, None, -1),)
    return getitem(cumsum(getitem(g, index=reverse), axis=axis), index=reverse)


def _cumsum_grad(g: Any, y: Any, x: Any, axis: Any = None, **_: Any) -> Any:
    _, position = _scan_axis(x, axis)
    return reshape(_reverse_cumsum(g, position), shape=x.shape)


cumsum = _op("cumsum", "running Σ along axis  ·  reversed running Σ of g", _cumsum,
             _cumsum_grad,
             lambda t, y, x, axis=None, **_: cumsum(t, axis=axis),
             saves="inputs")


def _cumprod(a: np.ndarray, axis: Any = None, dtype: Any = None, out: Any = None) -> np.ndarray:
    """Running products along axis (of the flattened array if axis is None)."""
    _no_dtype_out("cumprod", dtype, out)
    return np.cumprod(a, axis=axis)


def _cumprod_jacobian_rows(x: Any, axis: int) -> Any:
    """J[..., k, i] = ∂(Π_{j≤k} x_j)/∂x_i = Π_{j≤k, j≠i} x_j (0 for i > k), as an array with
    the scanned axis moved last and a new axis k before it, formed without division (n² values
    per scanned row: used only where x has zeros)."""
    moved = transpose(x, axes=(*[a for a in range(x.ndim) if a != axis], axis))
    n = x.shape[axis]
    k, i = np.indices((n, n))
    # row k, column j of `factors`: x_j where j ≤ k and j ≠ i ... built per i below
    expanded = reshape(moved, shape=(*moved.shape[:-1], 1, 1, n))  # (..., k, i, j)
    keep = (np.arange(n)[None, None, :] <= k[:, :, None]) & (np.arange(n)[None, None, :]
                                                              != i[:, :, None])
    factors = where(keep, expanded, 1.0)
    products = prod(factors, axis=-1)  # (..., k, i)
    return products * (i <= k)


def _cumprod_grad(g: Any, y: Any, x: Any, axis: Any = None, **_: Any) -> Any:
    flat, position = _scan_axis(x, axis)
    if flat.size and _nonzero_finite(y):  # (a zero x makes every later running product 0)
        grad = _reverse_cumsum(g * _flat_like(y, axis), position) / flat
    else:
        grad = _cumprod_apply(g, flat, position, transpose_=True)
    return reshape(grad, shape=x.shape)


def _flat_like(out: Any, axis: Any) -> Any:
    return reshape(out, shape=(-1,)) if axis is None else out


def _cumprod_apply(v: Any, x: Any, axis: int, transpose_: bool) -> Any:
    """Jᵀv (the VJP) or Jv (the JVP) of cumprod along ``axis``, with the Jacobian of each row."""
    jac = _cumprod_jacobian_rows(x, axis)  # (..., k, i), the scanned axis of x moved last
    order = (*[a for a in range(x.ndim) if a != axis], axis)
    moved = transpose(v, axes=order)
    if transpose_:
        result = sum(jac * reshape(moved, shape=(*moved.shape[:-1], moved.shape[-1], 1)),
                     axis=-2)
    else:
        result = sum(jac * reshape(moved, shape=(*moved.shape[:-1], 1, moved.shape[-1])),
                     axis=-1)
    return transpose(result, axes=tuple(np.argsort(order)))


def _cumprod_jvp(t: Any, y: Any, x: Any, axis: Any = None, **_: Any) -> Any:
    flat, position = _scan_axis(x, axis)
    tangent = reshape(t, shape=(-1,)) if axis is None else t
    if flat.size and _nonzero_finite(y):
        return _flat_like(y, axis) * cumsum(tangent / flat, axis=position)
    return _cumprod_apply(tangent, flat, position, transpose_=False)


cumprod = _op("cumprod", "running Π along axis  ·  Σ_{k≥i} g_k·Π_{j≤k, j≠i} x_j", _cumprod,
              _cumprod_grad, _cumprod_jvp, saves="both")


def _diff(a: np.ndarray, n: int = 1, axis: int = -1, prepend: Any = None,
          append: Any = None) -> np.ndarray:
    """n-th forward differences along axis: a[1:] − a[:-1], n times."""
    if prepend is not None or append is not None:
        raise SignatureError("diff: prepend= and append= are not supported; join them first "
                             "(al.diff(al.concatenate([p, a], axis=axis), axis=axis))")
    if int(n) != n or n < 0:
        raise InputValueError(f"diff: the order n must be a non-negative integer, got {n!r}")
    return np.diff(a, n=n, axis=axis)


def _diff_transpose(g: Any, axis: int, n: int) -> Any:
    """Apply the transpose of one forward difference n times: [0, g] − [g, 0] along axis."""
    for _ in range(n):
        zeros = np.zeros(g.shape[:axis] + (1,) + g.shape[axis + 1:], dtype=raw(g).dtype)
        g = concatenate([zeros, g], axis=axis) - concatenate([g, zeros], axis=axis)
    return g


diff = _op("diff", "Dⁿx, Dx = x[1:] − x[:-1] along axis  ·  (Dᵀ)ⁿg, Dᵀg = −D[0, g, 0]", _diff,
           lambda g, y, x, n=1, axis=-1, **_:
               _diff_transpose(g, int(axis) % x.ndim, int(n)),
           lambda t, y, x, n=1, axis=-1, **_: diff(t, n=n, axis=axis),
           saves="inputs")


# ------------------------------------------------------------------------------- trace
def _trace(a: np.ndarray, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
           out: Any = None) -> np.ndarray:
    """Σ_i a[i, i + offset] over axes (axis1, axis2)."""
    _no_dtype_out("trace", dtype, out)
    return np.trace(a, offset=offset, axis1=axis1, axis2=axis2)


def _diagonal_mask(x: Any, offset: int, axis1: int, axis2: int) -> np.ndarray:
    """1 on the (offset) diagonal of axes (axis1, axis2), 0 elsewhere, shaped to broadcast."""
    a1, a2 = axis1 % x.ndim, axis2 % x.ndim
    shape = [1] * x.ndim
    shape[a1], shape[a2] = x.shape[a1], x.shape[a2]
    eye = np.eye(x.shape[a1], x.shape[a2], k=offset, dtype=raw(x).dtype)
    return (eye if a1 < a2 else eye.T).reshape(shape)


def _trace_grad(g: Any, y: Any, x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1,
                **_: Any) -> Any:
    expanded = _keep_reduced(g, x.ndim, (axis1 % x.ndim, axis2 % x.ndim), False)
    return expanded * _diagonal_mask(x, offset, axis1, axis2)


trace = _op("trace", "Σ_i x[i, i + offset]  ·  g on the diagonal, 0 elsewhere", _trace,
            _trace_grad,
            lambda t, y, x, offset=0, axis1=0, axis2=1, **_:
                trace(t, offset=offset, axis1=axis1, axis2=axis2),
            saves="inputs")


# ------------------------------------------------------------------------------- average
def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False, *,
            keepdims: bool = False) -> Any:
    """The weighted mean Σ w·a / Σ w over axis (np.average), composed of differentiable ops, so
    the gradient reaches both ``a`` and ``weights``: ∂/∂a = w/Σw, ∂/∂w = (a − avg)/Σw. With
    ``returned=True`` also returns Σ w (broadcast to the average's shape)."""
    if weights is None:
        avg = mean(a, axis=axis, keepdims=keepdims)
        count = _count(np.shape(raw(a)), axis) if axis is not None or np.ndim(raw(a)) else 1
        total = np.full(np.shape(raw(avg)), float(count), dtype=np.result_type(raw(avg)))
    else:
        a_shape, w_shape = np.shape(raw(a)), np.shape(raw(weights))
        if a_shape != w_shape:
            if axis is None or len(w_shape) != 1 or isinstance(axis, (tuple, list)):
                raise InputValueError(
                    f"average: weights of shape {w_shape} differ from a's shape {a_shape}; "
                    "give weights of a's shape, or 1-D weights with a single axis")
            shape = [1] * len(a_shape)
            shape[int(axis) % len(a_shape)] = w_shape[0]
            weights = reshape(weights, shape=tuple(shape))
        total = sum(broadcast_to(weights, shape=a_shape), axis=axis, keepdims=keepdims)
        if np.any(raw(total) == 0):
            raise InputValueError("average: the weights sum to zero, so the average is "
                                  "undefined")
        avg = sum(a * weights, axis=axis, keepdims=keepdims) / total
    return (avg, total) if returned else avg


__all__ = ["average", "cumprod", "cumsum", "diff", "prod", "std", "trace", "var"]
