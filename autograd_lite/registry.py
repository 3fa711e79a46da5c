"""The op registry: every primitive is an :class:`Op` registered by name with its forward (NumPy
in, NumPy out) and its vector-Jacobian product, and calling an op records it on the tape.

An op is polymorphic: called with tensors it returns a :class:`Tensor` (recording a node when
an input requires grad and grad mode is on); called with plain arrays or numbers it returns what
its forward returns. That is what lets one VJP rule serve both backward passes: a first-order
backward hands the rule NumPy arrays and pays nothing for graph building, while
``create_graph=True`` hands it tensors and the rule's own ops are recorded.
"""

from __future__ import annotations

import inspect
import os
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autograd_lite import forward_mode
from autograd_lite.errors import (
    AnomalyError,
    AutogradLiteError,
    DTypeError,
    InputIndexError,
    InputValueError,
    RegistryError,
    ShapeError,
    SignatureError,
)
from autograd_lite.modes import current_mode
from autograd_lite.tensor import (
    NO_SETTINGS,
    Node,
    Tensor,
    _frozen,
    _new_tensor,
    guard_leaf,
    tick,
)

VJP = Callable[..., Any]
JVP = Callable[..., Any]

_REGISTRY: dict[str, Op] = {}
# The tracers of al.compile at work, in any thread (autograd_lite.compile.Tracer): an op called
# on a value one of them traces becomes a line of its program instead of a node of the tape.
TRACERS: list[Any] = []
# What an op's VJP reads, as (inputs, output): the arrays the tape keeps for it.
SAVES = {"both": (True, True), "inputs": (True, False), "output": (False, True),
         "none": (False, False)}
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
FLOAT64 = np.dtype(np.float64)
_new_object = object.__new__  # (read once here: object.__new__ is an attribute lookup per call)
_MISSING = object()  # an input not (yet) given, while binding a call
_ndarray = np.ndarray  # (a global: read once per raw operand of every op)
# A ufunc's own options, which mean nothing on a tape (the output array, a mask, a cast).
_UFUNC_KEYWORDS = frozenset({"out", "where", "dtype", "casting", "order", "subok", "signature",
                             "extobj"})


class _OpDoc:
    """``op.__doc__``: each op's own text (its math, inputs and settings), so ``help(al.exp)``
    and ``inspect.getdoc`` describe the op; ``Op.__doc__`` stays the class's."""

    def __init__(self, class_doc: str | None) -> None:
        self.class_doc = class_doc

    def __get__(self, op: Op | None, owner: type | None = None) -> str | None:
        return self.class_doc if op is None else op.help_text()


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

    ``jvp`` is the forward-mode rule, beside the VJP (see ``__init__``), and the forward's
    signature is the op's (see :meth:`bind`).
    """

    __slots__ = ("arity", "array_settings", "builtin", "doc", "explain", "family", "forward",
                 "inputs", "jvp", "jvps", "latex", "name", "positional", "required", "residual",
                 "saves_inputs", "saves_output", "sequence", "settings", "signature",
                 "specialize", "takes_any_setting", "vjp", "vjps", "writes_into")

    def __init__(self, name: str, forward: Callable[..., Any], vjp: VJP | Sequence[VJP | None],
                 residual: bool = False, doc: str | None = None,
                 explain: Callable[..., AutogradLiteError | None] | None = None,
                 builtin: bool = False, saves: str = "both", inputs: int | None = None,
                 jvp: JVP | Sequence[JVP | None] | None = None, family: str = "user",
                 latex: Any = None, array_settings: bool | None = None,
                 specialize: Callable[..., tuple[Callable[..., Any], dict[str, Any]]] | None = None
                 ) -> None:
        if not callable(forward):
            raise RegistryError(f"register_op('{name}'): forward must be callable")
        if saves not in SAVES:
            raise RegistryError(f"register_op('{name}'): saves must be one of "
                                f"{', '.join(map(repr, SAVES))}, got {saves!r}")
        self.saves_inputs, self.saves_output = SAVES[saves]
        self.name = name
        self.forward = forward
        self.vjp, self.vjps = _one_or_per_input(name, "vjp", vjp)
        # The JVP, in the same two forms: one function ``jvp(tangents, out, *inputs,
        # **settings)`` taking a tuple of input tangents (None for an input without one), or one
        # function per input, ``jvp_i(t, out, *inputs, **settings)``, each giving input i's
        # contribution to the output's tangent (the contributions are summed; each may have
        # the broadcast shape). None: the op has no forward-mode rule.
        self.jvp, self.jvps = (None, None) if jvp is None else _one_or_per_input(name, "jvp", jvp)
        self.residual = residual
        own_doc = None if isinstance(forward, np.ufunc) else (forward.__doc__ or "").strip()
        self.doc = doc if doc is not None else own_doc or None
        self.explain = explain
        # How ``al.explain`` writes the op's forward and each input's gradient in LaTeX (an
        # ``explain.Latex``); None: a generic step, listed as not checkable.
        self.latex = latex
        self.builtin = builtin
        self.family = family  # how `autograd-lite ops` groups it ("element-wise", "linalg", ...)
        self.sequence = False  # inputs given as one sequence (see take_sequence)
        # whether a setting may hold an array (an index), copied when a call is recorded; a
        # user op's may, a built-in says so at its registration
        self.array_settings = not builtin if array_settings is None else array_settings
        # ``specialize(*inputs, **settings) -> (forward, settings)``, called by al.compile while
        # tracing: the checks that shapes, dtypes and settings decide, run once, and the
        # forward the program then calls (which keeps every check on values). None: the forward.
        self.specialize = specialize
        self._read_signature(forward, inputs)

    def take_sequence(self) -> None:
        """Make an op with variadic inputs take them as one sequence, as NumPy's ``stack`` and
        ``concatenate`` do: ``stack([a, b], axis=0)`` (still one node, one input per array)."""
        if self.arity >= 0 or self.signature is None:
            raise RegistryError(f"'{self.name}': only an op whose forward takes *inputs can take "
                                "them as a sequence")
        self.sequence = True
        settings = [p for p in self.signature.parameters.values()
                    if p.kind is p.KEYWORD_ONLY]
        self.positional = tuple(p.name for p in settings)
        P = inspect.Parameter
        self.signature = inspect.Signature(
            [P("arrays", P.POSITIONAL_OR_KEYWORD)]
            + [p.replace(kind=P.POSITIONAL_OR_KEYWORD) for p in settings])

    # (what makes help(op) and inspect treat an op as the function it is: pydoc documents a
    # "method descriptor" with its __name__, signature and __doc__)
    __doc__ = _OpDoc(__doc__)  # type: ignore[assignment]

    @property
    def __name__(self) -> str:
        return self.name

    def __get__(self, instance: Any, owner: type | None = None) -> Op:
        return self  # as a class attribute, an op stays the same op (no binding)

    def help_text(self) -> str:
        """What ``help(op)`` shows under the signature: the math and the arguments."""
        forward, _, gradient = (self.doc or "").partition("  ·  ")
        if forward and gradient:
            lines = [f"{forward.strip()}, differentiable (an autograd_lite op).", "",
                     f"Forward:   {forward.strip()}",
                     f"Gradient:  {gradient.strip()}   (g: the gradient with respect to the "
                     "output)"]
        else:
            lines = [self.doc or f"The autograd_lite op '{self.name}'."]
        if self.sequence:
            inputs = "arrays, a sequence (list or tuple) of tensors or arrays"
        else:
            inputs = ", ".join(self.inputs) or "none"
        names = self.signature.parameters if self.signature is not None else ()
        settings = ", ".join(n for n in names if n in self.settings) or "none"
        lines += ["", f"Inputs (tensors, arrays or numbers; differentiated): {inputs}.",
                  f"Settings (by keyword, or by position after the inputs): {settings}."]
        return "\n".join(lines)

    def _read_signature(self, forward: Callable[..., Any], count: int | None) -> None:
        """Split the forward's parameters into inputs and settings (see :meth:`bind`): the
        first ``count`` positional parameters are inputs, or, with no count, those without a
        default."""
        if isinstance(forward, np.ufunc):
            names = ("x",) if forward.nin == 1 else ("x", "y") if forward.nin == 2 else tuple(
                f"x{i + 1}" for i in range(forward.nin))
            parameters = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_ONLY) for n in names]
            signature: inspect.Signature | None = inspect.Signature(parameters)
        else:
            try:
                signature = inspect.signature(forward)
            except (TypeError, ValueError):  # a callable Python cannot introspect
                signature = None
            else:  # shown in messages and help(): names and defaults, not annotations
                signature = signature.replace(
                    parameters=[p.replace(annotation=p.empty)
                                for p in signature.parameters.values()],
                    return_annotation=inspect.Signature.empty)
        inputs: list[str] = []
        positional: list[str] = []
        settings: list[str] = []
        required: list[str] = []
        self.takes_any_setting = signature is None
        self.arity = -1  # inputs are variadic (or unknown)
        # A keyword-only ``out=None``, as a NumPy ufunc takes it, is no setting: a compiled
        # program passes the buffer of an operand that dies there (same shape and dtype).
        out = signature.parameters.get("out") if signature is not None else None
        self.writes_into = out is not None and out.kind is out.KEYWORD_ONLY and out.default is None
        if self.writes_into:
            signature = signature.replace(parameters=[  # type: ignore[union-attr]
                p for p in signature.parameters.values() if p.name != "out"])  # type: ignore
        if signature is not None:
            for p in signature.parameters.values():
                if p.kind is p.VAR_POSITIONAL:
                    inputs.append("*" + p.name)
                elif p.kind is p.VAR_KEYWORD:
                    self.takes_any_setting = True
                elif p.kind is not p.KEYWORD_ONLY and (
                        len(inputs) < count if count is not None else p.default is p.empty):
                    inputs.append(p.name)
                else:
                    settings.append(p.name)
                    if p.default is p.empty:
                        required.append(p.name)
                    if p.kind is not p.KEYWORD_ONLY and not any(i[0] == "*" for i in inputs):
                        positional.append(p.name)
            if not any(i[0] == "*" for i in inputs):
                self.arity = len(inputs)
        self.signature = signature
        self.inputs, self.positional = tuple(inputs), tuple(positional)
        self.settings, self.required = frozenset(settings), frozenset(required)

    @property
    def __signature__(self) -> inspect.Signature | None:  # what inspect.signature(op) shows
        return self.signature

    def __call__(self, *args: Any, **attrs: Any) -> Any:
        # The common calls (inputs by position, settings by keyword) go straight to apply;
        # with no settings, the node shares one empty mapping instead of keeping a fresh dict.
        if len(args) == self.arity and (not attrs or attrs.keys() <= self.settings) and (
                not self.required or self.required <= attrs.keys()):
            return apply(self, args, attrs or NO_SETTINGS)
        args, attrs = self.bind(args, attrs)
        return apply(self, args, attrs or NO_SETTINGS)

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]
             ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Match a call's arguments to the op's signature, as NumPy does for its functions.

        The forward's parameters without a default are the op's inputs (what it differentiates
        and what may be tensors); those with a default are settings (``axis``, ``keepdims``),
        taken by keyword or, after the inputs, by position: ``sum(x, 0)`` is
        ``sum(x, axis=0)``. Anything else is refused with the op's signature.
        """
        if self.sequence:
            return self._bind_sequence(args, kwargs)
        if self.arity < 0:  # variadic inputs: settings only by keyword
            inputs, extra = args, ()
        else:
            inputs, extra = args[:self.arity], args[self.arity:]
        if len(extra) > len(self.positional):
            raise self._refusal(f"takes {self.arity} input(s) and at most "
                                f"{len(self.positional)} setting(s) by position, but "
                                f"{len(args)} positional arguments were given")
        attrs = dict(zip(self.positional, extra))
        filled = list(inputs)
        for key, value in kwargs.items():
            if key in attrs:
                raise self._refusal(f"got two values for '{key}'")
            if key in self.settings or (self.takes_any_setting and key not in self.inputs):
                attrs[key] = value
            elif key in self.inputs and self.arity >= 0:
                position = self.inputs.index(key)
                while len(filled) <= position:
                    filled.append(_MISSING)
                if filled[position] is not _MISSING:
                    raise self._refusal(f"got two values for input '{key}'")
                filled[position] = value
            else:
                raise self._unexpected(key)
        if self.arity >= 0:  # an input not given takes its default, if the forward has one
            filled += [_MISSING] * (self.arity - len(filled))
            parameters = self.signature.parameters if self.signature is not None else {}
            filled = [parameters[name].default if value is _MISSING and name in parameters
                      and parameters[name].default is not inspect.Parameter.empty else value
                      for name, value in zip(self.inputs, filled)]
        missing = [name for name, value in zip(self.inputs, filled) if value is _MISSING]
        if missing:
            raise self._refusal(f"missing input(s) {', '.join(map(repr, missing))}")
        if not self.required <= attrs.keys():
            absent = ", ".join(sorted(self.required - attrs.keys()))
            raise self._refusal(f"missing setting(s) {absent}")
        return tuple(filled), attrs

    def _bind_sequence(self, args: tuple[Any, ...], kwargs: dict[str, Any]
                       ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``op(arrays, *settings, **settings)``: the sequence's items are the inputs."""
        kwargs = dict(kwargs)
        if args:
            sequence, extra = args[0], args[1:]
            if "arrays" in kwargs:
                raise self._refusal("got two values for 'arrays'")
        elif "arrays" in kwargs:
            sequence, extra = kwargs.pop("arrays"), ()
        else:
            raise self._refusal("missing the sequence of arrays")
        if any(isinstance(e, (Tensor, np.ndarray)) for e in extra):
            raise self._refusal(f"takes the arrays as one sequence, as NumPy does: "
                                f"{self.name}([a, b], axis=0), not {self.name}(a, b)")
        if not isinstance(sequence, (list, tuple, Tensor, np.ndarray)):
            raise self._refusal(f"takes a sequence (a list or tuple) of arrays, got "
                                f"{type(sequence).__name__}")
        items = tuple(sequence)
        if not items:
            raise self._refusal("needs at least one array")
        if len(extra) > len(self.positional):
            raise self._refusal(f"takes at most {len(self.positional)} setting(s) after the "
                                f"arrays, but {len(extra)} were given")
        attrs = dict(zip(self.positional, extra))
        for key, value in kwargs.items():
            if key in attrs:
                raise self._refusal(f"got two values for '{key}'")
            if key not in self.settings:
                raise self._unexpected(key)
            attrs[key] = value
        return items, attrs

    def _unexpected(self, key: str) -> SignatureError:
        if key in _UFUNC_KEYWORDS:
            return self._refusal(f"'{key}=' is a NumPy ufunc option that a tape cannot record; "
                                 "call the op without it (cast with .astype(...) afterwards, "
                                 "select with where(...), assign the result)")
        return self._refusal(f"got an unexpected argument '{key}'")

    def _refusal(self, why: str) -> SignatureError:
        shown = f"{self.name}{self.signature}" if self.signature is not None else self.name
        return SignatureError(f"{self.name}: {why}. Signature: {shown}")

    def __repr__(self) -> str:
        return f"<op {self.name}>"


def _one_or_per_input(name: str, what: str, rule: Any
                      ) -> tuple[Callable[..., Any] | None, tuple[Any, ...] | None]:
    """A VJP or JVP given as one function (``(rule, None)``) or as one function per input, None
    for an input without one (``(None, rules)``)."""
    if callable(rule):
        return rule, None
    rules = tuple(rule)
    if not all(f is None or callable(f) for f in rules):
        raise RegistryError(f"register_op('{name}'): {what} must be a function or a sequence of "
                            "functions (one per input, None for an input without one)")
    return None, rules


def register_op(name: str, forward: Callable[..., Any], vjp: VJP | Sequence[VJP | None], *,
                residual: bool = False, doc: str | None = None,
                explain: Callable[..., AutogradLiteError | None] | None = None,
                builtin: bool = False, saves: str = "both", inputs: int | None = None,
                jvp: JVP | Sequence[JVP | None] | None = None, family: str = "user",
                latex: Any = None, array_settings: bool | None = None,
                specialize: Callable[..., tuple[Callable[..., Any], dict[str, Any]]] | None = None
                ) -> Op:
    """Register a primitive and return it, ready to call on tensors.

    >>> softplus = register_op("softplus", forward=lambda x: np.logaddexp(0.0, x),
    ...                        vjp=lambda g, out, x: (g * sigmoid(x),),
    ...                        jvp=lambda tangents, out, x: tangents[0] * sigmoid(x))

    The forward's signature is the op's: its parameters without a default are the inputs
    (what may be tensors, and what the VJPs differentiate), the others are settings, passed by
    keyword or after the inputs by position (``inputs=`` gives the count of inputs when a
    setting has no default, as ``reshape(x, shape)``). Registering a name again replaces a user
    op (so a notebook cell can be re-run); built-in names are refused. ``latex=`` (an
    ``autograd_lite.explain.Latex``) is how ``al.explain`` writes the op's step;
    ``array_settings=True`` says a setting may hold an array (an index), which a recorded call
    then copies (the default for user ops). ``specialize=`` lets ``al.compile`` check once, at
    tracing, what shapes, dtypes and settings decide (see ``Op``).
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise RegistryError(f"op names must be Python identifiers, got {name!r}")
    existing = _REGISTRY.get(name)
    if existing is not None and existing.builtin:
        raise RegistryError(f"'{name}' is a built-in op; register yours under another name")
    op = Op(name, forward, vjp, residual=residual, doc=doc, explain=explain, builtin=builtin,
            saves=saves, inputs=inputs, jvp=jvp, family=family, latex=latex,
            array_settings=array_settings, specialize=specialize)
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


def list_ops(family: str | None = None) -> list[str]:
    """The names of the registered ops (of one family, if given), sorted."""
    return sorted(name for name, op in _REGISTRY.items() if family in (None, op.family))


def op_families() -> dict[str, list[str]]:
    """The registered ops' names grouped by family (families and names sorted)."""
    families: dict[str, list[str]] = {}
    for name in list_ops():
        families.setdefault(_REGISTRY[name].family, []).append(name)
    return dict(sorted(families.items()))


def apply(op: Op, args: tuple[Any, ...], attrs: dict[str, Any]) -> Any:
    """Run ``op`` forward on ``args`` and, when needed, record it on the tape."""
    if TRACERS:  # al.compile is tracing: an op on a traced value becomes a line of a program
        for tracer in tuple(TRACERS):
            if tracer.traces(args):
                return tracer.record(op, args, attrs)
    arrays = []
    parents = []
    has_tensor = tracked = unguarded = False
    for arg in args:
        if type(arg) is Tensor:
            has_tensor = True
            arrays.append(arg._data)
            node = arg._node
            if node is None:
                parents.append(arg)
                tracked = tracked or arg._requires_grad
                unguarded = unguarded or not arg._guarded
            else:
                parents.append(node)
                tracked = True
        else:
            arrays.append(arg)
            parents.append(arg)
            unguarded = unguarded or isinstance(arg, _ndarray)
    if tracked and (unguarded or op.array_settings) and current_mode().grad_enabled:
        # About to record: what the node keeps must be private (docs/integrity.md).
        if unguarded:
            arrays = parents = None  # (dropped first: guard_leaf counts references)
            arrays, parents = _guard(op, args)
        if attrs and op.array_settings:
            attrs = _private_settings(attrs)
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
        if out.dtype.kind not in "fiub":
            raise _unsupported_result(op, arrays, out)
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
        node.arrays = arrays if op.saves_inputs else (None,) * len(arrays)
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
            if mode.forward_levels:  # forward mode: the output's tangents, kept on the node
                forward_mode.push_tangents(op, args, attrs, _new_tensor(out, node))
        tensor = _new_object(Tensor)  # (as _new_tensor(out, node), without its call)
        tensor._data = out
        tensor._node = node
        tensor._requires_grad = False
        return tensor
    if dtype.kind not in "fiub":  # complex (x + 1j): no tensor may hold it
        raise _unsupported_result(op, arrays, out)
    if out.base is not None and out.flags.writeable:  # a view: of a leaf's array, maybe
        out = out.view()
        out.flags.writeable = False
    if mode.watching:
        if mode.anomaly and dtype.kind == "f":
            check_finite(out, f"forward of op '{op.name}' (created at {user_origin()})", arrays)
        if mode.forward_levels:  # forward mode: the output's tangents, kept on the tensor
            return forward_mode.push_tangents(op, args, attrs, _new_tensor(out, None))
    return _new_tensor(out, None)


def _guard(op: Op, args: tuple[Any, ...]) -> tuple[list[Any], list[Any]]:
    """The operands of an op about to be recorded, made private: a leaf whose array someone
    else can write takes a copy (``guard_leaf``), and a NumPy array operand that the VJP reads
    is copied. Then no write outside the tape can change what it saved."""
    arrays, parents = [], []
    for arg in args:
        if type(arg) is Tensor:
            if arg._node is None:
                if not arg._guarded:
                    guard_leaf(arg)
                parents.append(arg)
            else:
                parents.append(arg._node)
            arrays.append(arg._data)
        else:
            if op.saves_inputs and isinstance(arg, np.ndarray) and not _frozen(arg):
                arg = np.array(arg)
            arrays.append(arg)
            parents.append(arg)
    return arrays, parents


def _private_settings(attrs: Any) -> Any:
    """The settings with their arrays copied (an index array the user may change later)."""
    for value in attrs.values():
        if isinstance(value, np.ndarray) or (type(value) is tuple and any(
                isinstance(v, np.ndarray) for v in value)):
            break
    else:
        return attrs
    return {key: np.array(value) if isinstance(value, np.ndarray) else
            tuple(np.array(v) if isinstance(v, np.ndarray) else v for v in value)
            if type(value) is tuple else value for key, value in attrs.items()}


def _unsupported_result(op: Op, arrays: Sequence[Any], out: np.ndarray) -> DTypeError:
    kind = "complex" if out.dtype.kind == "c" else str(out.dtype)
    inputs = "; ".join(describe_operand(a) for a in arrays)
    return DTypeError(
        f"{op.name}: the result is {kind} (dtype {out.dtype}; inputs: {inputs}). Tensors hold "
        "real numbers only: a complex number (such as 1j) or a complex array in an operand "
        "makes the result complex, and its graph would be lost. Keep the real and imaginary "
        "parts as two real tensors.")


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
