"""Shape and indexing ops with NumPy's names and signatures: each one's forward, its
vector-Jacobian product (VJP) and its forward-mode rule (JVP), side by side.

Every op here is linear in its array input, so its JVP is the op itself applied to the tangent,
and its VJP is the adjoint map: a permutation's inverse (flip, roll, rot90, moveaxis, sort),
a sum over the copies (tile, repeat, broadcasting in atleast_*), or the selected elements
scattered back into zeros (take, diag, diagonal, pad's inverse). VJPs are built from
registered ops (``getitem``, ``scatter_add``, ``reshape``, ``transpose`` and the ops of this
module), so under ``create_graph=True`` they are recorded and differentiable again.

``split`` and ``array_split`` return lists of tensors and are not single ops: each piece is a
``getitem`` slice of the input.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from autograd_lite.errors import (
    DTypeError,
    GraphError,
    InputIndexError,
    InputValueError,
    ShapeError,
)
from autograd_lite.ops import check_axis, getitem, scatter_add, transpose
from autograd_lite.registry import register_op
from autograd_lite.tensor import Tensor, raw

FAMILY = "shape and indexing"


def register(name: str, math: str, forward: Any, *vjps: Any, family: str = FAMILY,
             **options: Any) -> Any:
    """Register a built-in of this package: name, math (forward · gradient), forward, one VJP
    per input (see ``registry.Op`` for ``saves=``, ``jvp=``, ``inputs=``)."""
    return register_op(name, forward, vjps, builtin=True, doc=math, family=family, **options)


def linear(name: str, math: str, forward: Any, vjp: Any, **options: Any) -> Any:
    """Register a single-input op that is linear in its input: its JVP is the op applied to the
    tangent with the same settings."""
    def jvp(t: Any, out: Any, x: Any, **settings: Any) -> Any:
        return op(t, **settings)

    op = register(name, math, forward, vjp, jvp=(jvp,), **options)
    return op


def real_input(name: str, x: Any) -> np.ndarray:
    """``x`` as an array, refusing complex data (out of scope) with a DTypeError."""
    x = np.asarray(x)
    if x.dtype.kind == "c":
        raise DTypeError(f"{name}: complex input (dtype {x.dtype}) is not supported; "
                         "autograd_lite differentiates real float32/float64 data only")
    return x


# ---------------------------------------------------------------------- adding/removing axes
squeeze = linear("squeeze", "x without its size-1 axes  ·  g in x's shape",
                 lambda a, axis=None: np.squeeze(a, axis=axis),
                 lambda g, out, a, axis=None: g.reshape(a.shape), saves="inputs")
expand_dims = linear("expand_dims", "x with new size-1 axes  ·  g in x's shape",
                     lambda a, axis: np.expand_dims(a, axis),
                     lambda g, out, a, axis: g.reshape(a.shape), saves="inputs", inputs=1)


def _check_order(name: str, order: str) -> None:
    if order not in ("C", "F"):
        raise InputValueError(f"{name}: order={order!r} depends on the memory layout and is not "
                              "supported; use order='C' (row-major) or 'F' (column-major)")


def _ravel(a: np.ndarray, order: str = "C") -> np.ndarray:
    """x as a 1-D array, read in row-major ('C') or column-major ('F') order."""
    _check_order("ravel", order)
    return np.ravel(a, order=order)


def _flatten(a: np.ndarray, order: str = "C") -> np.ndarray:
    """A 1-D copy of x (ndarray.flatten), read in 'C' or 'F' order."""
    _check_order("flatten", order)
    return np.asarray(a).flatten(order=order)


def _unravel_grad(g: Any, out: Any, a: Any, order: str = "C") -> Any:
    """g back in x's shape (for 'F': the reshaped gradient of x's transpose, transposed)."""
    return g.reshape(a.shape) if order == "C" else transpose(g.reshape(a.shape[::-1]))


ravel = linear("ravel", "x read into 1-D  ·  g in x's shape", _ravel, _unravel_grad,
               saves="inputs")
flatten = linear("flatten", "x copied into 1-D  ·  g in x's shape", _flatten, _unravel_grad,
                 saves="inputs")


def _at_least(n: int) -> Any:
    numpy_fn = {1: np.atleast_1d, 2: np.atleast_2d, 3: np.atleast_3d}[n]
    op = linear(f"atleast_{n}d", f"x with at least {n} axes  ·  g in x's shape",
                lambda a: numpy_fn(a), lambda g, out, a: g.reshape(a.shape), saves="inputs")

    def function(*arys: Any) -> Any:
        results = [op(a) for a in arys]
        return results[0] if len(results) == 1 else results

    function.__name__ = function.__qualname__ = f"atleast_{n}d"
    function.__doc__ = (f"Each input viewed with at least {n} axes (np.atleast_{n}d): one "
                        "tensor for one input, a list for several.")
    return function


atleast_1d = _at_least(1)
atleast_2d = _at_least(2)
atleast_3d = _at_least(3)


# ------------------------------------------------------------------------------ permutations
flip = linear("flip", "x reversed along axis  ·  g reversed along axis",
              lambda m, axis=None: np.flip(m, axis=axis),
              lambda g, out, m, axis=None: flip(g, axis=axis), saves="none")
fliplr = linear("fliplr", "x reversed along axis 1  ·  g reversed along axis 1", np.fliplr,
                lambda g, out, m: fliplr(g), saves="none")
flipud = linear("flipud", "x reversed along axis 0  ·  g reversed along axis 0", np.flipud,
                lambda g, out, m: flipud(g), saves="none")


def _negated(shift: Any) -> Any:
    return tuple(-int(s) for s in shift) if isinstance(shift, (tuple, list, np.ndarray)) \
        else -int(shift)


roll = linear("roll", "x rolled by shift along axis  ·  g rolled by −shift",
              lambda a, shift, axis=None: np.roll(a, shift, axis=axis),
              lambda g, out, a, shift, axis=None: roll(g, _negated(shift), axis=axis),
              saves="none", inputs=1)
rot90 = linear("rot90", "x rotated k quarter turns in axes  ·  g rotated −k quarter turns",
               lambda m, k=1, axes=(0, 1): np.rot90(m, k, axes),
               lambda g, out, m, k=1, axes=(0, 1): rot90(g, -k, axes), saves="none")
moveaxis = linear("moveaxis", "x with axes moved from source to destination  ·  g moved back",
                  lambda a, source, destination: np.moveaxis(a, source, destination),
                  lambda g, out, a, source, destination: moveaxis(g, destination, source),
                  saves="none", inputs=1)
swapaxes = linear("swapaxes", "x with two axes swapped  ·  g with them swapped back",
                  lambda a, axis1, axis2: np.swapaxes(a, axis1, axis2),
                  lambda g, out, a, axis1, axis2: swapaxes(g, axis1, axis2),
                  saves="none", inputs=1)


def _triangle(upper: bool) -> Any:
    numpy_fn = np.triu if upper else np.tril
    word = "upper" if upper else "lower"

    def vjp(g: Any, out: Any, m: Any, k: int = 0) -> Any:
        return op(g, k)

    op = linear("triu" if upper else "tril",
                f"x with elements outside the {word} triangle (from diagonal k) zeroed  ·  "
                "g masked the same way", lambda m, k=0: numpy_fn(m, k), vjp, saves="none")
    return op


triu = _triangle(True)
tril = _triangle(False)


# ---------------------------------------------------------------------- copies: tile, repeat
def _as_tuple(reps: Any) -> tuple[int, ...]:
    return tuple(int(r) for r in np.atleast_1d(reps))


def _tile_grad(g: Any, out: Any, A: Any, reps: Any) -> Any:
    """Σ over the copies: g viewed as (r₀, s₀, r₁, s₁, …), summed over the r axes."""
    reps = _as_tuple(reps)
    d = max(A.ndim, len(reps))
    shape = (1,) * (d - A.ndim) + tuple(A.shape)
    reps = (1,) * (d - len(reps)) + reps
    interleaved = tuple(n for pair in zip(reps, shape) for n in pair)
    return g.reshape(interleaved).sum(axis=tuple(range(0, 2 * d, 2))).reshape(A.shape)


tile = linear("tile", "x repeated reps times as a block  ·  g summed over the blocks",
              lambda A, reps: np.tile(A, reps), _tile_grad, saves="inputs", inputs=1)


def _repeat_index(a: Any, repeats: Any, axis: Any) -> Any:
    """The index that gathers ``repeat``'s output from x (flattened when axis is None)."""
    n = a.size if axis is None else a.shape[axis]
    source = np.repeat(np.arange(n), raw(repeats))
    if axis is None:
        return source
    return (slice(None),) * check_axis(axis, a.ndim, "repeat") + (source,)


def _repeat_grad(g: Any, out: Any, a: Any, repeats: Any, axis: Any = None) -> Any:
    """Each element gets the sum of the gradients of its copies."""
    index = _repeat_index(a, repeats, axis)
    if axis is None:
        return scatter_add(g, index=index, shape=(a.size,)).reshape(a.shape)
    return scatter_add(g, index=index, shape=a.shape)


repeat = linear("repeat", "each element repeated (along axis)  ·  g summed over each "
                "element's copies",
                lambda a, repeats, axis=None: np.repeat(a, repeats, axis=axis), _repeat_grad,
                saves="inputs", inputs=1, array_settings=True)


# -------------------------------------------------------------------------------------- pad
_INDEX_MODES = ("edge", "reflect", "symmetric", "wrap")


def _pad_widths(pad_width: Any, ndim: int) -> np.ndarray:
    try:
        widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (ndim, 2))
    except ValueError:
        raise ShapeError(f"pad: pad_width {pad_width!r} does not fit an array with {ndim} "
                         "axes; give an int, (before, after), or one pair per axis") from None
    if (widths < 0).any():
        raise InputValueError(f"pad: pad_width {pad_width!r} has negative widths")
    return widths


def _pad_index(array: Any, pad_width: Any, mode: str) -> Any:
    """For the index modes: the open-mesh index that gathers the padded array from x."""
    widths = _pad_widths(pad_width, array.ndim)
    return np.ix_(*[np.pad(np.arange(n), tuple(w), mode=mode)
                    for n, w in zip(array.shape, widths)])


def _pad(array: np.ndarray, pad_width: Any, mode: str = "constant", constant_values: Any = 0,
         reflect_type: str = "even") -> np.ndarray:
    """x padded: with constants (mode='constant'), or with copies of its own elements
    ('edge', 'reflect', 'symmetric', 'wrap', each an index map)."""
    if isinstance(constant_values, Tensor) and constant_values.requires_grad:
        raise InputValueError("pad: constant_values is a setting, not differentiated; pass "
                              "plain numbers (or pad with 0 and add the constant's term)")
    array = np.asarray(array)
    if mode == "constant":
        _pad_widths(pad_width, array.ndim)
        return np.pad(array, pad_width, mode="constant", constant_values=raw(constant_values))
    if mode not in _INDEX_MODES:
        raise InputValueError(
            f"pad: mode={mode!r} is not supported; use 'constant', 'edge', 'reflect', "
            "'symmetric' or 'wrap' (modes computing statistics or ramps, 'empty' and callables "
            "are refused)")
    if reflect_type != "even":
        raise InputValueError("pad: reflect_type='odd' is not supported (it is not a copy of "
                              "elements); use reflect_type='even'")
    if array.size == 0:
        raise ShapeError(f"pad: mode={mode!r} cannot pad an empty array of shape {array.shape}")
    return array[_pad_index(array, pad_width, mode)]


def _pad_grad(g: Any, out: Any, array: Any, pad_width: Any, mode: str = "constant",
              constant_values: Any = 0, reflect_type: str = "even") -> Any:
    """Constant: the inner block of g. Index modes: g added back to the elements copied."""
    if mode == "constant":
        widths = _pad_widths(pad_width, array.ndim)
        return getitem(g, index=tuple(slice(int(b), int(b) + n)
                                      for (b, _), n in zip(widths, array.shape)))
    return scatter_add(g, index=_pad_index(array, pad_width, mode), shape=array.shape)


def _pad_jvp(t: Any, out: Any, array: Any, pad_width: Any, mode: str = "constant",
             constant_values: Any = 0, reflect_type: str = "even") -> Any:
    return pad(t, pad_width, mode=mode, reflect_type=reflect_type)  # constants have no tangent


pad = register("pad", "x padded with constants or its own edge/reflected/wrapped copies  ·  "
               "g's inner block, or g summed back onto the copied elements",
               _pad, _pad_grad, jvp=(_pad_jvp,), saves="inputs", inputs=1, array_settings=True)


# ---------------------------------------------------------------------------------- gathers
def _take_indices(a: Any, indices: Any, axis: Any, mode: str) -> Any:
    indices = np.asarray(raw(indices))
    if indices.dtype.kind not in "iu":
        raise InputValueError(f"take: indices must be integers, got dtype {indices.dtype}")
    n = a.size if axis is None else a.shape[check_axis(axis, a.ndim, "take")]
    if mode == "wrap":
        return indices % n
    if mode == "clip":
        return np.clip(indices, 0, n - 1)
    if mode != "raise":
        raise InputValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    if indices.size and (indices.min() < -n or indices.max() >= n):
        raise InputIndexError(f"take: an index is out of bounds for axis size {n} (indices "
                              f"from {indices.min()} to {indices.max()})")
    return indices


def _take(a: np.ndarray, indices: Any, axis: Any = None, mode: str = "raise") -> np.ndarray:
    """x[indices] along axis (of the flattened x when axis is None)."""
    return np.take(a, _take_indices(np.asarray(a), indices, axis, mode), axis=axis)


def _take_grad(g: Any, out: Any, a: Any, indices: Any, axis: Any = None,
               mode: str = "raise") -> Any:
    """g added back at the indices taken (repeats accumulate)."""
    chosen = _take_indices(a, indices, axis, mode)
    if axis is None:
        return scatter_add(g, index=chosen, shape=(a.size,)).reshape(a.shape)
    where = (slice(None),) * check_axis(axis, a.ndim, "take") + (chosen,)
    return scatter_add(g, index=where, shape=a.shape)


take = register("take", "x[indices] along axis  ·  g added back at the indices (repeats "
                "accumulate)", _take, _take_grad, None,
                jvp=(lambda t, out, a, indices, **s: take(t, raw(indices), **s), None),
                saves="inputs")


def _along_axis_index(arr: Any, indices: Any, axis: Any) -> Any:
    """The fancy index equivalent to take_along_axis(arr, indices, axis)."""
    indices = np.asarray(raw(indices))
    if indices.dtype.kind not in "iu":
        raise InputValueError(f"take_along_axis: indices must be integers, got dtype "
                              f"{indices.dtype}")
    if axis is None:
        return indices
    if indices.ndim != arr.ndim:
        raise ShapeError(f"take_along_axis: indices of shape {indices.shape} need as many axes "
                         f"as the array of shape {arr.shape}")
    axis = check_axis(axis, arr.ndim, "take_along_axis")
    return tuple(indices if d == axis else
                 np.arange(n).reshape((1,) * d + (-1,) + (1,) * (arr.ndim - d - 1))
                 for d, n in enumerate(arr.shape))


def _take_along_axis_grad(g: Any, out: Any, arr: Any, indices: Any, axis: Any = -1) -> Any:
    index = _along_axis_index(arr, indices, axis)
    if axis is None:
        return scatter_add(g, index=index, shape=(arr.size,)).reshape(arr.shape)
    return scatter_add(g, index=index, shape=arr.shape)


take_along_axis = register(
    "take_along_axis", "x gathered at indices along axis  ·  g added back there",
    lambda arr, indices, axis=-1: np.take_along_axis(arr, np.asarray(raw(indices)), axis=axis),
    _take_along_axis_grad, None,
    jvp=(lambda t, out, arr, indices, **s: take_along_axis(t, raw(indices), **s), None),
    saves="inputs")


def _diagonal_index(rows: int, cols: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of diagonal k of a rows × cols matrix."""
    length = max(0, min(rows, cols - k) if k >= 0 else min(rows + k, cols))
    i = np.arange(length)
    return (i, i + k) if k >= 0 else (i - k, i)


def _diag(v: np.ndarray, k: int = 0) -> np.ndarray:
    """1-D x: the matrix with x on diagonal k; 2-D x: its diagonal k."""
    if np.ndim(v) not in (1, 2):
        raise ShapeError(f"diag: input must be 1-D or 2-D, got shape {np.shape(v)}; use "
                         "diagonal(x, offset, axis1, axis2) for stacks of matrices")
    return np.diag(v, k)


def _diag_grad(g: Any, out: Any, v: Any, k: int = 0) -> Any:
    if v.ndim == 1:
        return diag(g, k)
    return scatter_add(g, index=_diagonal_index(*v.shape, k), shape=v.shape)


diag = linear("diag", "the matrix with x on diagonal k, or a matrix's diagonal k  ·  "
              "g's diagonal k, or g placed on diagonal k", _diag, _diag_grad, saves="inputs")


def _diagonal(a: np.ndarray, offset: int = 0, axis1: int = 0, axis2: int = 1) -> np.ndarray:
    """Diagonal ``offset`` of the matrices in axes (axis1, axis2), on a new last axis."""
    return np.diagonal(a, offset, axis1, axis2).copy()


def _diagonal_grad(g: Any, out: Any, a: Any, offset: int = 0, axis1: int = 0,
                   axis2: int = 1) -> Any:
    """g placed on the diagonal of zeros, the matrix axes moved back into place."""
    axis1 = check_axis(axis1, a.ndim, "diagonal")
    axis2 = check_axis(axis2, a.ndim, "diagonal")
    rest = tuple(n for d, n in enumerate(a.shape) if d not in (axis1, axis2))
    moved = scatter_add(g, index=(Ellipsis, *_diagonal_index(a.shape[axis1], a.shape[axis2],
                                                              offset)),
                        shape=(*rest, a.shape[axis1], a.shape[axis2]))
    return moveaxis(moved, (-2, -1), (axis1, axis2))


diagonal = linear("diagonal", "diagonal offset of x in axes (axis1, axis2), last  ·  g placed "
                  "on that diagonal of zeros", _diagonal, _diagonal_grad, saves="inputs")


# ------------------------------------------------------------------------------------- sort
def _sort(a: np.ndarray, axis: Any = -1, kind: Any = None, order: Any = None,
          stable: Any = None) -> np.ndarray:
    """x sorted along axis (flattened when axis is None); NaNs last, as NumPy."""
    if order is not None:
        raise InputValueError("sort: order= sorts structured arrays, which have no gradient")
    return np.sort(a, axis=axis, kind=kind, stable=stable)


def _sort_permutation(a: Any, axis: Any) -> tuple[np.ndarray, Any]:
    """The stable argsort of x along axis, inverted: where each element of x went."""
    values = np.asarray(raw(a))
    if axis is None:
        values, axis = values.reshape(-1), 0
    return np.argsort(np.argsort(values, axis=axis, kind="stable"), axis=axis,
                      kind="stable"), axis


def _sort_grad(g: Any, out: Any, a: Any, axis: Any = -1, kind: Any = None, order: Any = None,
               stable: Any = None) -> Any:
    """g read back at each element's sorted position (ties follow the stable argsort)."""
    inverse, along = _sort_permutation(a, axis)
    return take_along_axis(g, inverse, along).reshape(a.shape)


def _sort_jvp(t: Any, out: Any, a: Any, axis: Any = -1, **settings: Any) -> Any:
    values = np.asarray(raw(a))
    if axis is None:
        return take_along_axis(t.reshape(-1), np.argsort(values.reshape(-1), kind="stable"), 0)
    return take_along_axis(t, np.argsort(values, axis=axis, kind="stable"), axis)


sort = register("sort", "x sorted along axis  ·  g sent back through the permutation of the "
                "stable argsort (tied elements keep their order)", _sort, _sort_grad,
                jvp=(_sort_jvp,), saves="inputs")


# ----------------------------------------------------------------------------------- splits
def _split_points(n: int, indices_or_sections: Any, equal: bool) -> list[int]:
    """The boundaries np.split / np.array_split use for an axis of length n."""
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise InputValueError(f"split: the number of sections must be positive, got "
                                  f"{sections}")
        if equal and n % sections:
            raise InputValueError(f"split: an axis of length {n} does not divide into "
                                  f"{sections} equal sections; use array_split for unequal "
                                  "ones")
        size, extra = divmod(n, sections)
        sizes = [size + 1] * extra + [size] * (sections - extra)
        return [int(s) for s in np.cumsum([0, *sizes])]
    return [0, *(int(i) for i in indices_or_sections), n]


def _pieces(ary: Any, indices_or_sections: Any, axis: int, equal: bool) -> list[Any]:
    if isinstance(ary, (list, tuple)):
        ary = np.asarray(ary)
    ndim = np.ndim(raw(ary))
    axis = check_axis(axis, ndim, "split")
    points = _split_points(np.shape(raw(ary))[axis], indices_or_sections, equal)
    return [getitem(ary, index=(slice(None),) * axis + (slice(start, stop),))
            for start, stop in itertools.pairwise(points)]


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    """x split into equal sections (an int) or at the given indices along axis: a list of
    ``getitem`` slices, so each piece's gradient flows back into its part of x."""
    return _pieces(ary, indices_or_sections, axis, equal=True)


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    """As :func:`split`, allowing sections of unequal length (the first ones one longer)."""
    return _pieces(ary, indices_or_sections, axis, equal=False)


def refuse_in_place_sort(*args: Any, **kwargs: Any) -> None:
    """Tensor.sort: refused, since ndarray.sort sorts in place and returns None."""
    raise GraphError("Tensor.sort(): ndarray.sort sorts in place and returns None, which a "
                         "tape cannot record; use al.sort(t, axis) (or np.sort(t)), which "
                         "returns the sorted tensor")


__all__ = ["array_split", "atleast_1d", "atleast_2d", "atleast_3d", "diag", "diagonal",
           "expand_dims", "flatten", "flip", "fliplr", "flipud", "moveaxis", "pad", "ravel",
           "repeat", "roll", "rot90", "sort", "split", "squeeze", "swapaxes", "take",
           "take_along_axis", "tile", "tril", "triu"]
