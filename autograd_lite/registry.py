"""The op registry: every primitive is an :class:`Op` registered by name with its forward (NumPy
in, NumPy out) and its vector-Jacobian product, and calling an op records it on the tape.

An op is polymorphic: called with tensors it returns a :class:`Tensor` (recording a node when
an input requires grad and grad mode is on); called with plain arrays or numbers it returns what
its forward returns. That is what lets one VJP rule serve both backward passes: a first-order
backward hands the rule NumPy arrays and pays nothing for graph building, while
``create_graph=True`` hands it tensors and the rule's own ops are recorded.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autograd_lite.errors import (
    AnomalyError,
    AutogradLiteError,
    DTypeError,
    InputIndexError,
    InputValueError,
    RegistryError,
    ShapeError,
)
from autograd_lite.modes import current_mode
from autograd_lite.tensor import NO_SETTINGS, Node, Tensor, _new_tensor, tick

VJP = Callable[..., Any]

_REGISTRY: dict[str, Op] = {}
# What an op's VJP reads, as (inputs, output): the arrays the tape keeps for it.
SAVES = {"both": (True, True), "inputs": (True, False), "output": (False, True),
         "none": (False, False)}
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
FLOAT64 = np.dtype(np.float64)
# _NOTHING_SAVED[n]: n Nones, standing for the inputs of an op that saves none of them (shared,
# so recording such an op allocates nothing for them).
_NOTHING_SAVED = tuple((None,) * n for n in range(8))
_new_object = object.__new__  # (read once here: object.__new__ is an attribute lookup per call)


class Op:
    """A registered primitive: ``forward(*arrays, **attrs)`` and its vector-Jacobian product.

    The VJP is either one function ``vjp(g, out, *inputs, **attrs)`` returning one gradient per
    input (None for an input with no gradient), or a sequence with one such function per input,
    each returning that input's gradient (only the ones needed are called). Gradients may have
    the broadcast shape: the engine sums them back to each input's shape.
    With ``residual=True`` the forward returns ``(out, residual)`` and the VJP receives
    ``residual=...`` in a first-order backward (a cache of forward work) and ``residual=None``
    under ``create_graph=True``, where it must recompute from differentiable ops.

    ``saves`` says which arrays the VJP reads, so the tape keeps only those until backward
    (PyTorch's ``save_for_backward``): ``"both"`` (the default: inputs and output),
    ``"inputs"``, ``"output"`` or ``"none"``; the VJP gets None for what is not saved. An add
    saves nothing and an exp only its output, so an intermediate that no VJP needs is freed as
    soon as the user drops it, and an in-place change to it is harmless.
    """

    __slots__ = ("builtin", "doc", "explain", "forward", "name", "residual", "saves_inputs",
                 "saves_output", "vjp", "vjps")

    def __init__(self, name: str, forward: Callable[..., Any], vjp: VJP | Sequence[VJP | None],
                 residual: bool = False, doc: str | None = None,
                 explain: Callable[..., AutogradLiteError | None] | None = None,
                 builtin: bool = False, saves: str = "both") -> None:
        if not callable(forward):
            raise RegistryError(f"register_op('{name}'): forward must be callable")
        if saves not in SAVES:
            raise RegistryError(f"register_op('{name}'): saves must be one of "
                                f"{', '.join(map(repr, SAVES))}, got {saves!r}")
        self.saves_inputs, self.saves_output = SAVES[saves]
        self.name = name
        self.forward = forward
        if callable(vjp):
            self.vjp: VJP | None = vjp
            self.vjps: tuple[VJP | None, ...] | None = None
        else:
            vjps = tuple(vjp)
            if not all(f is None or callable(f) for f in vjps):
                raise RegistryError(
                    f"register_op('{name}'): vjp must be a function or a sequence of functions "
                    "(one per input, None for an input without gradient)"
                )
            self.vjp, self.vjps = None, vjps
        self.residual = residual
        own_doc = None if isinstance(forward, np.ufunc) else (forward.__doc__ or "").strip()
        self.doc = doc if doc is not None else own_doc or None
        self.explain = explain
        self.builtin = builtin

    def __call__(self, *args: Any, **attrs: Any) -> Any:
        # (with no settings, the node shares one empty mapping instead of keeping a fresh dict)
        return apply(self, args, attrs or NO_SETTINGS)

    def __repr__(self) -> str:
        return f"<op {self.name}>"


def register_op(name: str, forward: Callable[..., Any], vjp: VJP | Sequence[VJP | None], *,
                residual: bool = False, doc: str | None = None,
                explain: Callable[..., AutogradLiteError | None] | None = None,
                builtin: bool = False, saves: str = "both") -> Op:
    """Register a primitive and return it, ready to call on tensors.

    >>> softplus = register_op("softplus", forward=lambda x: np.logaddexp(0.0, x),
    ...                        vjp=lambda g, out, x: (g * sigmoid(x),))

    Registering a name again replaces a user op (so a notebook cell can be re-run); built-in
    names are refused.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise RegistryError(f"op names must be Python identifiers, got {name!r}")
    existing = _REGISTRY.get(name)
    if existing is not None and existing.builtin:
        raise RegistryError(f"'{name}' is a built-in op; register yours under another name")
    op = Op(name, forward, vjp, residual=residual, doc=doc, explain=explain, builtin=builtin,
            saves=saves)
    _REGISTRY[name] = op
    return op


def get_op(name: str) -> Op:
    """The op registered under ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise RegistryError(
            f"no op named '{name}'; registered ops: {', '.join(sorted(_REGISTRY))}"
        ) from None


def list_ops() -> list[str]:
    """The names of all registered ops, sorted."""
    return sorted(_REGISTRY)


def apply(op: Op, args: tuple[Any, ...], attrs: dict[str, Any]) -> Any:
    """Run ``op`` forward on ``args`` and, when needed, record it on the tape."""
    arrays = []
    parents = []
    has_tensor = tracked = False
    for arg in args:
        if type(arg) is Tensor:
            has_tensor = True
            arrays.append(arg._data)
            node = arg._node
            if node is None:
                parents.append(arg)
                tracked = tracked or arg._requires_grad
            else:
                parents.append(node)
                tracked = True
        else:
            arrays.append(arg)
            parents.append(arg)
    arrays = tuple(arrays)  # what the forward is called with, and what the node may keep
    try:
        out = op.forward(*arrays, **attrs) if attrs else op.forward(*arrays)
    except AutogradLiteError:
        raise
    except (ValueError, TypeError, IndexError) as exc:
        raise explain_failure(op, arrays, attrs, exc) from None
    residual = None
    if op.residual:
        out, residual = out
    if not has_tensor:
        return out
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    mode, dtype = current_mode(), out.dtype
    # (float64 by identity first: reading dtype.kind costs as much as the rest of this test)
    if tracked and mode.grad_enabled and (dtype is FLOAT64 or dtype.kind == "f"):
        # Record the node, keeping the inputs, the output and the residual only as far as the
        # op's VJP reads them (Op.saves), then wrap the output. (Written out here rather than
        # in helpers: this runs once per op, and a Python call costs a few hundred machine
        # instructions.)
        node = Node()
        node.op = op
        node.attrs = attrs
        node.parents = tuple(parents)
        if op.saves_inputs:
            node.arrays = arrays
        else:
            n = len(arrays)
            node.arrays = _NOTHING_SAVED[n] if n < 8 else (None,) * n
        node.out = out if op.saves_output else None
        node.residual = residual  # forward work an op keeps for its VJP (see Op)
        node.retains_grad = False
        node.shape = out.shape
        node.dtype = dtype
        node.seq = tick()
        if mode.watching:
            if mode.retain_all_grads:
                node.retains_grad = True
            if mode.anomaly:
                node.origin = user_origin()
                check_finite(out, f"forward of {node.describe()}", arrays)
        tensor = _new_object(Tensor)  # (as _new_tensor(out, node), without its call)
        tensor._data = out
        tensor._node = node
        tensor._requires_grad = False
        return tensor
    if mode.anomaly and dtype.kind == "f":
        check_finite(out, f"forward of op '{op.name}' (created at {user_origin()})", arrays)
    return _new_tensor(out, None)


# ------------------------------------------------------------------------------ error messages
def describe_operand(value: Any) -> str:
    """'float64 array of shape (3, 4)', or the number itself."""
    if isinstance(value, (np.ndarray, np.generic)):
        return f"{value.dtype} array of shape {value.shape}"
    if isinstance(value, (int, float, bool)):
        return repr(value)
    return type(value).__name__


def explain_failure(op: Op, arrays: Sequence[Any], attrs: dict[str, Any],
                    exc: Exception) -> AutogradLiteError:
    """Turn a NumPy error inside a forward into one that names the op, its inputs and a fix."""
    if op.explain is not None:
        specific = op.explain(*arrays, **attrs)
        if specific is not None:  # the op's own explanation, under its name
            return type(specific)(f"{op.name}: {specific}")
    inputs = "; ".join(describe_operand(a) for a in arrays)
    shown = {k: v for k, v in attrs.items() if k != "index"}
    settings = f" with {shown}" if shown else ""
    message = f"{op.name}: {exc} (inputs: {inputs}{settings})"
    if isinstance(exc, IndexError):
        return InputIndexError(message + ". Check the index against the shape.")
    if isinstance(exc, TypeError):
        return DTypeError(message + ". Check the types of the inputs and settings.")
    return InputValueError(message)


def broadcast_failure(*arrays: Any, **attrs: Any) -> ShapeError | None:
    """The explanation for element-wise ops: which shapes fail to broadcast, and how to fix it."""
    shapes = [np.shape(a) for a in arrays]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        pairs = []
        for axis in range(1, max(len(s) for s in shapes) + 1):
            sizes = {s[-axis] for s in shapes if len(s) >= axis and s[-axis] != 1}
            if len(sizes) > 1:
                pairs.append(f"axis -{axis}: sizes {' vs '.join(map(str, sorted(sizes)))}")
        return ShapeError(
            f"shapes {' and '.join(map(str, shapes))} do not broadcast ({'; '.join(pairs)}). "
            "NumPy aligns shapes at their last axis and needs each pair of sizes to be equal or "
            "1. Reshape or transpose an operand so the axes line up (e.g. b.reshape(-1, 1))."
        )
    return None


def user_origin() -> str:
    """'file.py:12 in f': the innermost stack frame outside this package."""
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return f"{frame.filename}:{frame.lineno} in {frame.name}"
    return "<unknown>"


def check_finite(value: Any, what: str, inputs: Sequence[Any] = ()) -> None:
    """Under anomaly detection: raise if ``value`` holds NaN or Inf."""
    array = value._data if isinstance(value, Tensor) else np.asarray(value)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))
        first = tuple(int(i) for i in bad[0]) if array.ndim else ()
        inherited = any(
            isinstance(a, np.ndarray) and a.dtype.kind == "f" and not np.isfinite(a).all()
            for a in inputs
        )
        note = (" (an input already held NaN/Inf: look at where it came from)" if inherited
                else "")
        raise AnomalyError(
            f"{what} produced {len(bad)} NaN/Inf value(s), the first at index {first} "
            f"(value {array[first]!r}){note}."
        )
