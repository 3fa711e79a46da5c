"""`Tensor`, the value users build expressions with, and `Node`, the tape's record of one op.

The graph is made of nodes, not tensors: a node keeps its op, the attributes it was called with,
its parents (nodes of intermediate inputs, leaf tensors, constants) and, until ``backward()``
frees them, the arrays the op's vector-Jacobian product needs. A tensor with history points at
the node that produced it; nodes never point at the tensors they produced, so there are no
reference cycles, and an intermediate array is freed as soon as neither the user nor the tape
needs it.
"""

from __future__ import annotations

import itertools
import numbers
import sys
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from autograd_lite import modes
from autograd_lite.errors import (
    ArrayConversionError,
    DTypeError,
    GraphError,
    InplaceModificationError,
    InputValueError,
)

if TYPE_CHECKING:
    from autograd_lite.registry import Op

# One clock for the tape. Each node takes a tick when created (Node.seq: every consumer has a
# larger one, which orders the backward pass), and rebinding a leaf's ``.data`` to an array of
# another shape or dtype takes one too, recorded on the leaf and in LAST_REBIND: a node
# created before that refuses to backpropagate into the leaf (its gradient would have the
# wrong shape). In-place writes need no clock: the arrays a graph keeps are private (see
# ``Tensor.data`` and docs/integrity.md).
CLOCK = itertools.count(1)
tick = CLOCK.__next__  # the next tick
LAST_REBIND = [0]
_getrefcount = sys.getrefcount

_KIND_NAMES = {"c": "complex", "O": "object", "U": "string", "S": "bytes", "V": "structured",
               "M": "datetime", "m": "timedelta"}


def to_array(data: Any, what: str = "Tensor") -> np.ndarray:
    """Convert user data to the array a tensor holds, with the library's dtype rules.

    Python numbers and (nested) lists become float64; NumPy float arrays keep their dtype;
    NumPy integer and boolean arrays stay as they are (labels, indices, masks). Strings,
    complex numbers, objects and ragged lists are refused with a :class:`DTypeError` or
    :class:`InputValueError`.
    """
    if isinstance(data, np.ndarray):
        array = data
    elif isinstance(data, Tensor):
        array = data.data  # (read-only for a computed tensor: see Tensor.data)
    elif isinstance(data, np.generic):
        array = np.asarray(data)
    elif isinstance(data, (bool, numbers.Real)) and not isinstance(data, np.generic):
        array = np.asarray(float(data), dtype=np.float64)
    elif isinstance(data, (list, tuple)):
        try:
            array = np.array(data)
        except ValueError as exc:
            raise InputValueError(
                f"{what}: cannot make an array of the list given ({exc}). Lists must be "
                "rectangular: every row the same length, every entry a number."
            ) from None
        if array.dtype.kind in "iub":
            array = array.astype(np.float64)
    else:
        raise DTypeError(
            f"{what}: cannot hold a {type(data).__name__}; give a number, a (nested) list of "
            "numbers or a NumPy array."
        )
    kind = array.dtype.kind
    if kind not in "fiub":
        raise DTypeError(
            f"{what}: {_KIND_NAMES.get(kind, str(array.dtype))} data (dtype {array.dtype}) is "
            "not supported; use real floating-point data (float64 or float32), or integer or "
            "boolean arrays for labels, indices and masks."
        )
    return array


def _check_differentiable(array: np.ndarray, what: str) -> None:
    if array.dtype.kind != "f":
        raise DTypeError(
            f"{what}: requires_grad=True needs floating-point data, got dtype {array.dtype} with "
            f"shape {array.shape}. Integer and boolean arrays (labels, indices, masks) are never "
            "differentiated; convert with .astype(np.float64) if this is a real variable."
        )


class Node:
    """The tape's record of one op application, and of the value it produced.

    ``parents`` is aligned with the op's inputs: a :class:`Node` for an input with history,
    the :class:`Tensor` itself for a leaf or constant tensor, the raw value for a number or
    array. ``arrays`` (the forward operands), ``out`` and ``residual`` are what the VJP reads,
    each kept only if the op saves it (``Op.saves``: None in its place otherwise); the
    backward pass drops them (unless ``retain_graph``) while the structure stays for drawing.
    """

    # Every node sets the slots (the backward pass reads each of them; registry.apply() fills
    # them: a bare ``Node()`` and slot assignments cost about 600 machine instructions less
    # than a class call with arguments); the fields below them are rarely set, so they live in
    # the class as defaults and a node gets an instance dict only when one is set.
    __slots__ = ("__dict__", "__weakref__", "arrays", "attrs", "dtype", "op", "out", "parents",
                 "residual", "retains_grad", "seq", "shape")
    op: Op
    attrs: Mapping[str, Any]
    parents: tuple[Any, ...]
    arrays: tuple[Any, ...] | None  # None once freed
    out: np.ndarray | None
    residual: Any
    retains_grad: bool
    shape: tuple[int, ...]
    dtype: np.dtype
    seq: int  # the clock's tick at creation
    name: str | None = None
    grad: Any = None  # kept for retain_grad() and drawing
    origin: str | None = None  # where user code created it, under detect_anomaly()

    @property
    def freed(self) -> bool:
        return self.arrays is None

    def describe(self) -> str:
        """A short phrase naming this node for error messages."""
        where = f" created at {self.origin}" if self.origin else ""
        label = f" '{self.name}'" if self.name else ""
        return f"op '{self.op.name}'{label} (output shape {self.shape}){where}"

    def __repr__(self) -> str:
        return f"<Node {self.describe()}>"


def _new_tensor(data: np.ndarray, node: Node | None, requires_grad: bool = False) -> Tensor:
    """Make a tensor without the validation of ``Tensor(...)`` (the data is already an array)."""
    tensor = object.__new__(Tensor)
    tensor._data = data
    tensor._node = node
    tensor._requires_grad = requires_grad
    return tensor


def raw(value: Any) -> Any:
    """The array behind a tensor; anything else unchanged."""
    return value._data if isinstance(value, Tensor) else value


class Tensor:
    """An array that can record the operations applied to it, for reverse-mode differentiation.

    ``Tensor(data, requires_grad=False, name=None)``: Python numbers and lists become float64;
    float32 and float64 arrays keep their dtype (the array is used, not copied); integer and
    boolean arrays stay as they are and can never require a gradient.
    """

    # _data, _node and _requires_grad are set on every tensor; the rest are class defaults
    # until set (a tensor gets an instance dict only then).
    __slots__ = ("__dict__", "__weakref__", "_data", "_node", "_requires_grad")
    _grad: Any = None
    _name: str | None = None
    _rebound_at = 0  # the clock's tick when .data was rebound to another shape or dtype
    # True while the array is private to this tensor and the tape: nothing outside holds it or
    # a view of it, or it is read-only all the way down (see guard_leaf and Tensor.data).
    _guarded = False

    # NumPy's dispatch protocols: np.exp(t), ndarray + t, np.sum(t, axis=0), np.linalg.inv(t)
    # run autograd_lite's ops and record on the tape (see autograd_lite.numpy_dispatch).
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return numpy_dispatch.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return numpy_dispatch.array_function(func, types, args, kwargs)

    def __init__(self, data: Any, requires_grad: bool = False, name: str | None = None) -> None:
        array = to_array(data)
        if requires_grad:
            _check_differentiable(array, f"Tensor{_named(name)}")
        self._data = array
        self._node: Node | None = None
        self._requires_grad = bool(requires_grad)
        if name is not None:
            self.name = name

    # ----------------------------------------------------------------------------- attributes
    @property
    def data(self) -> np.ndarray:
        """The values, as a NumPy array: the way to read a tensor.

        For a leaf it is the tensor's own array, writable (``W.data -= lr * W.grad``,
        ``x.data[0] = 1``); if a recorded graph still keeps that array for its backward pass,
        the leaf first takes a copy (copy-on-write), so the graph keeps the values it was
        computed with and its gradients stay right. A computed tensor's values belong to its
        graph: they come as a read-only view (``.detach()`` and ``np.array(t.data)`` give
        copies to change). Assigning an array rebinds a leaf; see docs/integrity.md.
        """
        if self._node is not None:  # a computed tensor: its graph owns the array
            view = self._data.view()
            view.flags.writeable = False
            return view
        if self._guarded:  # handed out: no longer private
            self._guarded = False
            array = self._data
            # (more references than the slot's and this frame's: a graph, a view or the user
            # still holds it)
            if array.flags.writeable:
                if _getrefcount(array) > _PRIVATE:
                    self._data = array.copy()
            elif self._requires_grad:  # a parameter shared read-only: updates need a copy
                self._data = array.copy()
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        if self._node is not None:
            raise InplaceModificationError(
                f"cannot assign .data of a tensor computed by {self._node.describe()}: its "
                "graph would no longer match its value. Compute a new tensor instead, or "
                "assign to a leaf (t = t.detach(); t.data = ...).")
        array = to_array(value, f"Tensor{_named(self._name)}.data")
        if self._requires_grad:
            _check_differentiable(array, f"Tensor{_named(self._name)}.data")
        old = self._data
        if array is not old and (array.shape != old.shape or array.dtype != old.dtype):
            self._rebound_at = LAST_REBIND[0] = tick()
        self._data = array
        self._guarded = False

    @property
    def grad(self) -> Any:
        """The gradient: None, a NumPy array, or a Tensor after ``backward(create_graph=True)``.
        Intermediates keep theirs only after ``retain_grad()``."""
        return self._grad if self._node is None else self._node.grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if self._node is None:
            self._grad = value
        else:
            self._node.grad = value

    @property
    def requires_grad(self) -> bool:
        return self._node is not None or self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self._node is not None:
            raise GraphError(
                f"requires_grad can only be changed on leaf tensors; this tensor was computed by "
                f"{self._node.describe()}. Use .detach() to get a leaf with the same values."
            )
        if value:
            _check_differentiable(self._data, f"Tensor{_named(self._name)}")
        self._requires_grad = bool(value)

    @property
    def name(self) -> str | None:
        """A label for checks and graphs; naming an intermediate lets the verifier find it."""
        return self._name

    @name.setter
    def name(self, value: str | None) -> None:
        if value is not None and not isinstance(value, str):
            raise DTypeError(f"Tensor.name must be a string or None, got {type(value).__name__}")
        self._name = value
        if self._node is not None:
            self._node.name = value
        hook = modes.current_mode().name_hook
        if hook is not None and value is not None:
            hook(self, value)

    @property
    def is_leaf(self) -> bool:
        """True for tensors with no recorded history (created by the user, or constants)."""
        return self._node is None

    @property
    def node(self) -> Node | None:
        """The tape record that produced this tensor, or None for a leaf."""
        return self._node

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def T(self) -> Tensor:
        """All axes reversed, as ``ndarray.T``."""
        return ops.transpose(self)

    @property
    def mT(self) -> Tensor:
        """The matrix transpose of the last two axes, as ``ndarray.mT``."""
        if self.ndim < 2:
            raise InputValueError(f"mT needs at least two axes, got shape {self.shape}")
        order = (*range(self.ndim - 2), self.ndim - 1, self.ndim - 2)
        return ops.transpose(self, axes=order)

    # -------------------------------------------------------------------------------- methods
    def backward(self, grad: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (reverse mode).

        ``grad`` is the seed (the vector of the vector-Jacobian product); it may be omitted for
        a single-element tensor. ``retain_graph`` defaults to ``create_graph``; without it the
        arrays saved for the backward pass are freed. ``create_graph=True`` records the
        backward pass itself, so the gradients can be differentiated again.
        """
        engine.backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    def detach(self) -> Tensor:
        """A leaf tensor with these values, no history and no gradient. It shares the array
        (read-only for a computed tensor, whose graph owns it: copy it to change it)."""
        return _new_tensor(self.data, None)

    def numpy(self) -> np.ndarray:
        """The array, shared as ``.data`` is, for a tensor that is not part of a graph.

        A tensor that requires grad or has history is refused (as PyTorch refuses it): an
        array would silently leave the graph. Read values with ``t.data``, or use
        ``t.detach().numpy()``."""
        if self._node is not None or self._requires_grad:
            raise ArrayConversionError(self._conversion_refusal("t.numpy()"))
        return self.data

    def item(self) -> float | int | bool:
        """The single value of a one-element tensor, as a Python number."""
        if self._data.size != 1:
            raise InputValueError(
                f"item(): only one-element tensors convert to a Python number; this one has "
                f"shape {self.shape}. Index it or reduce it (e.g. .sum()) first."
            )
        return self._data.item()

    def retain_grad(self) -> None:
        """Keep this intermediate's gradient in ``.grad`` after ``backward()``."""
        if self._node is not None:
            self._node.retains_grad = True
        elif not self._requires_grad:
            raise GraphError(
                "retain_grad() on a tensor that does not require grad: it will never have a "
                "gradient. Create it with requires_grad=True, or compute it from one that has."
            )

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (sets ``.grad`` to None, as PyTorch's default)."""
        self.grad = None

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.max(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.reshape(self, shape=shape)

    def transpose(self, *axes: Any) -> Tensor:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return ops.transpose(self, axes=axes or None)

    def exp(self) -> Tensor:
        return ops.exp(self)

    def log(self) -> Tensor:
        return ops.log(self)

    def sqrt(self) -> Tensor:
        return ops.sqrt(self)

    def abs(self) -> Tensor:
        return ops.abs(self)

    def sigmoid(self) -> Tensor:
        return ops.sigmoid(self)

    def tanh(self) -> Tensor:
        return ops.tanh(self)

    def relu(self) -> Tensor:
        return ops.relu(self)

    def softmax(self, axis: int = -1) -> Tensor:
        return ops.softmax(self, axis=axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return ops.log_softmax(self, axis=axis)

    # ------------------------------------------------------------------------------ operators
    # (they call the registry's apply() directly: one Python call less than ops.add(...))
    def __add__(self, other: Any) -> Tensor:
        return apply(ops.add, (self, other), NO_SETTINGS)

    def __radd__(self, other: Any) -> Tensor:
        return apply(ops.add, (other, self), NO_SETTINGS)

    def __sub__(self, other: Any) -> Tensor:
        return apply(ops.sub, (self, other), NO_SETTINGS)

    def __rsub__(self, other: Any) -> Tensor:
        return apply(ops.sub, (other, self), NO_SETTINGS)

    def __mul__(self, other: Any) -> Tensor:
        return apply(ops.mul, (self, other), NO_SETTINGS)

    def __rmul__(self, other: Any) -> Tensor:
        return apply(ops.mul, (other, self), NO_SETTINGS)

    def __truediv__(self, other: Any) -> Tensor:
        return apply(ops.div, (self, other), NO_SETTINGS)

    def __rtruediv__(self, other: Any) -> Tensor:
        return apply(ops.div, (other, self), NO_SETTINGS)

    def __matmul__(self, other: Any) -> Tensor:
        return apply(ops.matmul, (self, other), NO_SETTINGS)

    def __rmatmul__(self, other: Any) -> Tensor:
        return apply(ops.matmul, (other, self), NO_SETTINGS)

    def __pow__(self, other: Any) -> Tensor:
        return apply(ops.pow, (self, other), NO_SETTINGS)

    def __rpow__(self, other: Any) -> Tensor:
        return apply(ops.pow, (other, self), NO_SETTINGS)

    def __neg__(self) -> Tensor:
        return apply(ops.neg, (self,), NO_SETTINGS)

    def __pos__(self) -> Tensor:
        return self

    def __getitem__(self, index: Any) -> Tensor:
        return ops.getitem(self, index=ops.normalize_index(index))

    def __setitem__(self, index: Any, value: Any) -> None:
        raise GraphError(
            "Tensors do not support item assignment: the tape records values, not mutations. "
            "Build the new value from ops (e.g. with a mask and multiplication), or change "
            "the array of a leaf outside the graph with t.data[...] = value."
        )

    # Comparisons give boolean constant tensors (masks); they have no gradient.
    def __lt__(self, other: Any) -> Tensor:
        return _new_tensor(np.asarray(self._data < raw(other)), None)

    def __le__(self, other: Any) -> Tensor:
        return _new_tensor(np.asarray(self._data <= raw(other)), None)

    def __gt__(self, other: Any) -> Tensor:
        return _new_tensor(np.asarray(self._data > raw(other)), None)

    def __ge__(self, other: Any) -> Tensor:
        return _new_tensor(np.asarray(self._data >= raw(other)), None)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _new_tensor(np.asarray(self._data == raw(other)), None)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _new_tensor(np.asarray(self._data != raw(other)), None)

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise InputValueError(
                f"The truth value of a tensor with shape {self.shape} is ambiguous; use "
                ".data.any() or .data.all()."
            )
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """``np.asarray(t)``: the values of a constant tensor. A tensor that is part of a graph
        is refused: converting it would silently drop the graph (``np.dot(x, x)`` would be a
        constant), so NumPy functions either record on the tape or fail loudly."""
        if self._node is not None or self._requires_grad:
            raise ArrayConversionError(self._conversion_refusal("np.asarray(t) / np.array(t)"))
        array = self.data
        if dtype is not None and dtype != array.dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def _conversion_refusal(self, what: str) -> str:
        state = (f"was computed by {self._node.describe()}" if self._node is not None
                 else "requires grad")
        return (f"{what}: this tensor{_named(self._name)} (shape {self.shape}) {state}; as a "
                "NumPy array it would silently leave the graph and its gradient would be lost. "
                "Use autograd_lite's ops (al.sum, al.stack, al.matmul, ...) to compute with "
                "it, and t.data (read-only values) or t.detach().numpy() to read it.")

    # ------------------------------------------------------------------ copying and pickling
    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle and ``copy.deepcopy``: a leaf keeps its values, requires_grad, name and
        gradient; a computed tensor becomes a detached leaf with its values (a graph is not
        copied, as ``t.detach()``)."""
        leaf = self._node is None
        grad = self._grad if leaf else None
        if isinstance(grad, Tensor):
            grad = grad._data
        return (_rebuild, (np.array(self._data), leaf and self._requires_grad, self._name,
                           None if grad is None else np.array(grad)))

    def __copy__(self) -> Tensor:
        """``copy.copy``: a leaf sharing the array (as ``detach()``), keeping leaf settings."""
        tensor = _new_tensor(self.data, None, self._node is None and self._requires_grad)
        if self._name is not None:
            tensor._name = self._name
        return tensor

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="Tensor(")
        extras = []
        if self._node is not None:
            extras.append(f"op='{self._node.op.name}'")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        if self._name is not None:
            extras.append(f"name={self._name!r}")
        if self._data.dtype != np.float64:
            extras.append(f"dtype={self._data.dtype}")
        return f"Tensor({body}{''.join(', ' + e for e in extras)})"

    # --- NumPy methods: element-wise and reductions
    # (as ndarray's methods, with its signatures; each records the op of the same name)
    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.min(self, axis=axis, keepdims=keepdims)

    def prod(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return reductions.prod(self, axis=axis, keepdims=keepdims)

    def var(self, axis: Any = None, ddof: Any = 0, keepdims: bool = False) -> Tensor:
        return reductions.var(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def std(self, axis: Any = None, ddof: Any = 0, keepdims: bool = False) -> Tensor:
        return reductions.std(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def cumsum(self, axis: Any = None) -> Tensor:
        return reductions.cumsum(self, axis=axis)

    def cumprod(self, axis: Any = None) -> Tensor:
        return reductions.cumprod(self, axis=axis)

    def trace(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
        return reductions.trace(self, offset=offset, axis1=axis1, axis2=axis2)

    def clip(self, min: Any = None, max: Any = None) -> Tensor:
        return elementwise.clip(self, min, max)

    def round(self, decimals: int = 0) -> Tensor:
        return elementwise.round(self, decimals=decimals)

    def __round__(self, ndigits: int | None = None) -> Tensor:
        return elementwise.round(self, decimals=ndigits or 0)

    def __abs__(self) -> Tensor:
        return ops.abs(self)

    def __mod__(self, other: Any) -> Tensor:
        return elementwise.remainder(self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return elementwise.remainder(other, self)

    def __floordiv__(self, other: Any) -> Tensor:
        raise numpy_dispatch.refusal("np.floor_divide (//)", "floor_divide")

    __rfloordiv__ = __floordiv__

    def __divmod__(self, other: Any) -> Tensor:
        raise numpy_dispatch.refusal("divmod", "divmod")

    __rdivmod__ = __divmod__

    def argmax(self, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        """The index of the largest element (an integer array: no gradient)."""
        return self._data.argmax(axis=axis, keepdims=keepdims)

    def argmin(self, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        """The index of the smallest element (an integer array: no gradient)."""
        return self._data.argmin(axis=axis, keepdims=keepdims)

    def any(self, axis: Any = None, keepdims: bool = False) -> Any:
        """Whether any element is true (NumPy's result: booleans have no gradient)."""
        return self._data.any(axis=axis, keepdims=keepdims)

    def all(self, axis: Any = None, keepdims: bool = False) -> Any:
        """Whether every element is true (NumPy's result: booleans have no gradient)."""
        return self._data.all(axis=axis, keepdims=keepdims)
    # --- end of NumPy methods: element-wise and reductions

    # --- NumPy methods: shapes and products
    # As ndarray's methods, each calls the op of the same name (autograd_lite.shapes, .products;
    # imported in the method, as those modules import this one).
    def ravel(self, order: str = "C") -> Tensor:
        from autograd_lite import shapes
        return shapes.ravel(self, order=order)

    def flatten(self, order: str = "C") -> Tensor:
        from autograd_lite import shapes
        return shapes.flatten(self, order=order)

    def squeeze(self, axis: Any = None) -> Tensor:
        from autograd_lite import shapes
        return shapes.squeeze(self, axis=axis)

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        from autograd_lite import shapes
        return shapes.swapaxes(self, axis1, axis2)

    def repeat(self, repeats: Any, axis: Any = None) -> Tensor:
        from autograd_lite import shapes
        return shapes.repeat(self, repeats, axis=axis)

    def diagonal(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
        from autograd_lite import shapes
        return shapes.diagonal(self, offset, axis1, axis2)

    def take(self, indices: Any, axis: Any = None, mode: str = "raise") -> Tensor:
        from autograd_lite import shapes
        return shapes.take(self, indices, axis=axis, mode=mode)

    def dot(self, b: Any) -> Tensor:
        from autograd_lite import products
        return products.dot(self, b)

    def sort(self, axis: int = -1, kind: Any = None, order: Any = None) -> None:
        """Refused: ndarray.sort sorts in place and returns None, which a tape cannot record
        (a tensor's recorded values never change). Use ``al.sort(t)`` or ``np.sort(t)``."""
        from autograd_lite import shapes
        shapes.refuse_in_place_sort()
    # --- end of NumPy methods: shapes and products


def _named(name: str | None) -> str:
    return f" '{name}'" if name else ""


def _rebuild(data: np.ndarray, requires_grad: bool, name: str | None,
             grad: np.ndarray | None) -> Tensor:
    """A leaf from pickled parts (see Tensor.__reduce__)."""
    tensor = Tensor(data, requires_grad=requires_grad, name=name)
    if grad is not None:
        tensor._grad = grad
    return tensor


def _frozen(array: np.ndarray) -> bool:
    """Whether nobody can write ``array``: it and every array under it are read-only, down to
    memory that is not a writable array (bytes, or a read-only owner)."""
    while True:
        if array.flags.writeable:
            return False
        base = array.base
        if base is None:
            return True
        if not isinstance(base, np.ndarray):
            return isinstance(base, bytes)
        array = base


def _references_of_a_private_array() -> int:
    """What ``sys.getrefcount`` reports, in the code shape of ``guard_leaf`` and ``Tensor.data``,
    for an array that only a tensor's slot holds (3 on CPython 3.11: the slot, the local name,
    the call's argument). Measured once here, so an interpreter that counts differently cannot
    make a shared array look private."""
    tensor = _new_tensor(np.empty(1), None)
    array = tensor._data
    return _getrefcount(array)


def guard_leaf(tensor: Tensor) -> None:
    """Make a leaf's array private before a recorded op keeps it: if anyone else holds it or a
    view of it (the array given to ``Tensor(a)``, an earlier ``t.data``, a view), the leaf
    takes a copy, so no write from outside can reach what the tape saved. A read-only array
    all the way down is shared as it is (the zero-copy path for large constant data)."""
    array = tensor._data
    if (array.base is not None or _getrefcount(array) > _PRIVATE) and not _frozen(array):
        tensor._data = array.copy()
    tensor._guarded = True


NO_SETTINGS: Mapping[str, Any] = MappingProxyType({})
_PRIVATE = _references_of_a_private_array()

# (imported last: ops and the engine need Tensor, and Tensor's methods need them)
from autograd_lite import elementwise, engine, numpy_dispatch, ops, reductions  # noqa: E402
from autograd_lite.registry import apply  # noqa: E402
