"""``al.compile(f)``: trace ``f`` once per input signature into straight-line NumPy code.

The first call with given shapes and dtypes *traces* ``f``: its arguments become
:class:`Traced` tensors, and every op applied to them is recorded as one line of a program
(``registry.apply`` hands such calls to the active :class:`Tracer`). For ``func.grad`` and
``func.value_and_grad`` the backward pass is then written from the recorded forward: each op's
VJP, newest op first, the gradients reaching a value summed in the order the eager engine sums
them, each fitted to its input's shape (the sums that undo broadcasting are worked out once, at
tracing). Lines no output needs are removed, short VJPs are written inline, and an element-wise
NumPy call whose operand dies on that line writes into the operand's buffer (``out=``). The
program is generated as Python source, compiled with ``exec`` and cached under the call's
shapes, dtypes and static (non-array) arguments; ``compiled.source`` shows it.

A replay is right only if every call of ``f`` performs the same NumPy calls. What would let the
values choose the calls is refused while tracing (:class:`ConcretizationError`): ``bool(t)``,
``float(t)``, ``t.item()``, comparisons, reading ``t.data``, random draws from NumPy's or Python's
global generator, a generator passed as an argument, backward passes inside ``f``.
"""

from __future__ import annotations

import builtins
import contextlib
import gc
import inspect
import keyword
import operator
import random
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from autograd_lite import engine, registry
from autograd_lite.errors import AutogradLiteError, DTypeError, RegistryError, ShapeError
from autograd_lite.modes import current_mode
from autograd_lite.registry import Op, explain_failure
from autograd_lite.tensor import Tensor

__all__ = ["CompileError", "Compiled", "ConcretizationError", "backward_source", "compile",
           "compiled_or_none"]


class ConcretizationError(AutogradLiteError, TypeError):
    """A traced value was asked for its concrete value (a Python branch on it, a conversion):
    the compiled program would replay the branch taken while tracing, whatever the inputs."""


class CompileError(AutogradLiteError, ValueError):
    """``f`` does something a compiled replay cannot reproduce."""


# ------------------------------------------------------------------------------ the program
class Var:
    """A value of the program: an input, a constant, or the result of a line."""

    __slots__ = ("diff", "dtype", "grad_of", "hint", "kind", "name", "shape", "slot", "tensor",
                 "tracer", "transpose_of", "value")

    def __init__(self, value: Any, kind: str, hint: str, diff: bool = False) -> None:
        self.value, self.kind, self.hint, self.diff = value, kind, hint, diff
        self.shape = getattr(value, "shape", None)
        self.dtype = getattr(value, "dtype", None)
        self.tensor: Tensor | None = None
        self.grad_of: Var | None = None  # named d_<x> when it is (a part of) x's gradient
        self.transpose_of: Var | None = None  # named <x>_T
        self.name = ""
        self.slot = -1  # its register, when the program runs as steps


class Line:
    """``targets = fn(args, **kwargs)``; ``elementwise``: fn takes ``out=`` as a NumPy ufunc
    does (a ufunc, or an op whose forward writes into ``out``)."""

    __slots__ = ("args", "elementwise", "fn", "fn_obj", "kwargs", "out", "record", "targets",
                 "unpacks", "uses")

    def __init__(self, targets: tuple[Var | None, ...], fn: Lit, args: list[Any],
                 kwargs: list[tuple[str, Any]], elementwise: bool) -> None:
        self.targets, self.fn, self.args, self.kwargs = targets, fn, args, kwargs
        self.fn_obj = fn.value
        self.uses = [a for a in args if type(a) is Var]
        if kwargs:
            self.uses += [v for _, v in kwargs if type(v) is Var]
        self.elementwise = elementwise
        self.out: Var | None = None  # the operand whose buffer receives the result, if any
        self.unpacks = False  # fn returns a tuple, unpacked into the targets
        self.record: tuple[Op, list[Any], dict[str, Any], Var | None, Var] | None = None


class Traced(Tensor):
    """A tensor standing for a value of the program being traced. Its array holds the values
    of the tracing call only, so whatever would read them is refused."""

    __slots__ = ("_var",)

    def _refuse(self, what: str) -> ConcretizationError:
        var = self._var
        return ConcretizationError(
            f"{what} on a traced value ({var.hint}, shape {self.shape}, dtype {self.dtype}) "
            "inside a function being compiled: the compiled program would replay the value "
            "seen while tracing, whatever the inputs. Keep the computation in autograd_lite's "
            "ops (al.maximum, al.relu, a mask passed as an argument), pass what decides a "
            "branch as a static (non-array) argument, or call f without al.compile.")

    def _live(self) -> None:
        if self._var.tracer not in registry.TRACERS:
            raise ConcretizationError(
                f"a traced value ({self._var.hint}, shape {self.shape}) used after its function "
                "was traced (it was kept from inside the compiled function): it stands for no "
                "value. Return what you need from the compiled function instead.")

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        self._live()
        return super().__array_ufunc__(ufunc, method, *inputs, **kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        self._live()
        return super().__array_function__(func, types, args, kwargs)

    def __bool__(self) -> bool:
        raise self._refuse("bool() (an if, while, and/or)")

    def __float__(self) -> float:
        raise self._refuse("float()")

    def __int__(self) -> int:
        raise self._refuse("int()")

    def __index__(self) -> int:
        raise self._refuse("use as an index")

    def item(self) -> Any:
        raise self._refuse("item()")

    def _compare(self, other: Any) -> Any:
        raise self._refuse("a comparison (<, <=, >, >=, ==, !=)")

    __lt__ = __le__ = __gt__ = __ge__ = __eq__ = __ne__ = _compare  # type: ignore[assignment]
    __hash__ = Tensor.__hash__

    @property  # type: ignore[override]
    def data(self) -> np.ndarray:
        raise self._refuse("reading .data")

    def numpy(self) -> np.ndarray:
        raise self._refuse("numpy()")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise self._refuse("conversion to a NumPy array")

    def detach(self) -> Tensor:
        raise self._refuse("detach()")

    def tolist(self) -> Any:
        raise self._refuse("tolist()")

    @property  # type: ignore[override]
    def requires_grad(self) -> bool:
        raise CompileError(
            "backward() or al.grad() inside a function being compiled: compile the transform "
            "instead, al.compile(al.func.value_and_grad(loss)) or al.compile(al.func.grad(loss))")

    def backward(self, *args: Any, **kwargs: Any) -> None:
        self.requires_grad  # noqa: B018 (raises)

    def __reduce__(self) -> Any:
        raise self._refuse("pickling or copying")

    def __repr__(self) -> str:
        return f"Traced({self._var.hint}, shape={self.shape}, dtype={self.dtype})"


_UNSET = object()
LARGE = 20_000  # lines: above this, the program runs as a list of steps (see Program)
DELETE_FROM = 1 << 16  # bytes: an array this large is deleted after its last use


class Lit(str):
    """An argument that is not a value of the program: its source text, and the object."""

    value: Any


def _lit(source: str, value: Any) -> Lit:
    lit = Lit(source)
    lit.value = value
    return lit
_ADD_REDUCE = np.add.reduce  # (one bound method, so that it is spelled np.add.reduce)
_SPELLED = {id(_ADD_REDUCE): "np.add.reduce"}
_SCALARS = frozenset({int, float, bool, str, type(None)})


def _literal(value: Any) -> str | None:
    """Python source for a plain value (ints, finite floats, strings, None, tuples of them)."""
    kind = type(value)
    if kind in (int, bool, str) or value is None:
        return repr(value)
    if kind is float:
        return repr(value) if np.isfinite(value) else None
    if kind is tuple:
        parts = [_literal(v) for v in value]
        if None in parts:
            return None
        return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"  # type: ignore
    return None


def _root(array: Any) -> Any:
    while isinstance(array, np.ndarray) and array.base is not None:
        array = array.base
    return array


class Tracer:
    """Records the op calls on :class:`Traced` tensors, then writes the backward pass."""

    def __init__(self) -> None:
        self.lines: list[Line] = []
        self.namespace: dict[str, Any] = {"np": np}
        self._names: dict[int, Lit] = {}  # by id: objects kept alive by the namespace
        self._literals: dict[Any, Lit] = {}
        self._keep: list[Any] = []
        self.constants: list[Var] = []
        self.inline_long = True

    # -- values
    def traces(self, args: Sequence[Any]) -> bool:
        """Whether an op on ``args`` belongs to this trace (threads trace independently)."""
        for arg in args:  # noqa: SIM110 (a loop: this runs for every op while tracing)
            if type(arg) is Traced and arg._var.tracer is self:
                return True
        return False

    def input(self, array: np.ndarray, name: str, diff: bool) -> Traced:
        var = Var(array, "input", name, diff)
        var.name = name
        return self._wrap(var)

    def _wrap(self, var: Var) -> Traced:
        var.tracer = self
        tensor = Traced.__new__(Traced)
        tensor._data, tensor._node, tensor._requires_grad, tensor._var = (
            var.value, None, False, var)
        var.tensor = tensor
        return tensor

    def refer(self, value: Any, hint: str = "c") -> Any:
        """An argument of a line: a Var as it is, a plain value as its literal source, anything
        else (an array, a dtype, a function) as a name in the program's namespace."""
        if type(value) is Var:
            return value
        if type(value) is Traced:
            return value._var
        if type(value) is Lit:
            return value
        kind = type(value)
        if kind in _SCALARS:  # (by type and value: 1, 1.0 and True are three literals)
            key: Any = (kind, value)
            lit = self._literals.get(key)
            if lit is None:
                source = _literal(value)
                lit = self._literals[key] = self._named(value, hint) if source is None else _lit(
                    source, value)
            return lit
        named = self._names.get(id(value))
        if named is not None:
            return named
        source = _literal(value)
        if source is not None:
            return _lit(source, value)
        spelled = _SPELLED.get(id(value))
        if spelled is not None:
            return _lit(spelled, value)
        if callable(value) and getattr(np, getattr(value, "__name__", "-"), None) is value:
            self._keep.append(value)
            self._names[id(value)] = _lit(f"np.{value.__name__}", value)
            return self._names[id(value)]
        if isinstance(value, np.dtype) and getattr(np, value.name, None) is not None:
            return _lit(f"np.{value.name}", value)
        return self._named(value, hint)

    def _named(self, value: Any, hint: str) -> Lit:
        """``value`` as a name in the program's namespace."""
        key = id(value)
        if key not in self._names:
            self._keep.append(value)  # (its id stays its own while tracing)
            if isinstance(value, np.ndarray):  # a constant: frozen as it was when traced
                value = np.array(value)
                value.flags.writeable = False
            base = "".join(c if c.isalnum() else "_" for c in hint).strip("_") or "c"
            name, n = base, 1
            while name in self.namespace or keyword.iskeyword(name):
                n += 1
                name = f"{base}_{n}"
            self.namespace[name] = value
            self._names[key] = _lit(name, value)
            constant = Var(value, "const", name)  # (keeps id(value) reserved)
            constant.name = name
            self.constants.append(constant)
        return self._names[key]

    def call(self, fn: Any, args: Sequence[Any], kwargs: dict[str, Any] | None = None,
             hint: str = "t", elementwise: bool = False, outputs: int | None = None,
             fn_hint: str | None = None, result: Any = _UNSET) -> Any:
        """Emit ``fn(*args, **kwargs)`` as a line, evaluate it on the traced values and return
        the new Var; with ``outputs``, fn returns a tuple of that many values, unpacked into a
        tuple of Vars (None where unused)."""
        refer = self.refer
        refs = [a if type(a) is Var else refer(a) for a in args]
        kw = [(k, refer(v)) for k, v in kwargs.items()] if kwargs else []
        if result is _UNSET:
            values = [a.value for a in refs]
            result = fn(*values, **{k: v.value for k, v in kw}) if kw else fn(*values)
        line = Line((), refer(fn, fn_hint or getattr(fn, "__name__", "fn")), refs, kw,
                    elementwise)
        self.lines.append(line)
        if outputs is None:
            var = Var(result, "value", hint)
            line.targets = (var,)
            return var
        line.targets = tuple(None if r is None else Var(r, "value", hint) for r in result)
        line.unpacks = True
        return line.targets

    # -- the forward: registry.apply hands every call with a Traced operand here
    def record(self, op: Op, args: tuple[Any, ...], attrs: dict[str, Any]) -> Traced:
        for value in attrs.values():
            if type(value) is Traced or (type(value) is tuple and any(
                    type(v) is Traced for v in value)):
                raise CompileError(f"{op.name}: a traced value as a setting (an index or a "
                                   "shape computed from the inputs) cannot be compiled; pass "
                                   "it as a static argument or as a constant")
        arrays = tuple([a._data if isinstance(a, Tensor) else a for a in args])
        refs = [a._var if type(a) is Traced else a._data if isinstance(a, Tensor) else a
                for a in args]
        forward, settings = op.forward, attrs
        try:
            if op.specialize is not None:
                forward, settings = op.specialize(*arrays, **attrs)
            result = forward(*arrays, **settings) if settings else forward(*arrays)
        except AutogradLiteError:
            raise
        except (ValueError, TypeError, IndexError) as exc:
            raise explain_failure(op, arrays, attrs, exc) from None
        if op.residual:
            out, residual = self.call(forward, refs, settings, hint=f"{op.name}_raw",
                                      outputs=2, fn_hint=f"{op.name}_forward", result=result)
            residual.hint = f"{op.name}_saved"
        else:
            ufunc = (op.writes_into or isinstance(forward, np.ufunc)) and not settings
            out = self.call(forward, refs, settings, hint=op.name, elementwise=ufunc,
                            fn_hint=f"{op.name}_forward", result=result)
            residual = None
        if type(out.value) is not np.ndarray:  # a NumPy scalar: an array, as apply() makes it
            out.hint = f"{op.name}_raw"
            out = self.call(np.asarray, [out], hint=op.name)
        if out.dtype.kind not in "fiub":
            raise registry._unsupported_result(op, arrays, out.value)
        out.diff = out.dtype.kind == "f" and any([type(r) is Var and r.diff for r in refs])
        self.lines[-1].record = (op, refs, attrs, residual, out)
        return self._wrap(out)

    # -- the backward
    def backward(self, loss: Var, wrt: Sequence[Var]) -> list[Var]:
        """Append the lines computing the gradient of ``loss`` with respect to each of
        ``wrt``, as the eager engine computes it (same VJPs, same order of sums)."""
        grads: dict[Var, Var] = {}
        # a program that will run as steps gains nothing from VJPs spread over several lines
        self.inline_long = len(self.lines) <= LARGE // 4
        if loss.diff or loss in wrt:
            # the seed: a constant of the program, named `one` (read-only: no VJP may write
            # into g), as the Var that _named makes for a new constant
            self._named(np.ones(loss.shape, dtype=loss.dtype), "one")
            grads[loss] = self.constants[-1]
        for line in reversed(list(self.lines)):
            if line.record is None:
                continue
            op, refs, attrs, residual, out = line.record
            g = grads.pop(out, None) if out not in wrt else grads.get(out)
            if g is None:
                continue
            joint: Any = None
            for position, x in enumerate(refs):
                if type(x) is not Var or not (x.diff or x in wrt):
                    continue
                if op.vjps is None:
                    if joint is None:
                        joint = self._joint(op, refs, attrs, residual, g, out)
                    contribution = joint[position]
                else:
                    if position >= len(op.vjps):
                        raise RegistryError(f"op '{op.name}' has {len(op.vjps)} VJP functions "
                                            f"for {len(refs)} inputs")
                    if op.vjps[position] is None:
                        continue
                    contribution = self._vjp(op, position, refs, attrs, residual, g, out)
                if contribution is None:
                    continue
                contribution = self._fit(contribution, x, op, position)
                if contribution is not g:
                    contribution.grad_of = x
                if x in grads:
                    grads[x] = self.call(np.add, [grads[x], contribution], hint=f"d_{x.hint}",
                                         elementwise=True)
                    grads[x].grad_of = x
                else:
                    grads[x] = contribution
        return [grads.get(x) for x in wrt]

    def _saved(self, op: Op, refs: list[Any], attrs: dict[str, Any], residual: Var | None,
               out: Var) -> tuple[Any, list[Any], dict[str, Any]]:
        saved_out = out if op.saves_output else None
        inputs = list(refs) if op.saves_inputs else [None] * len(refs)
        if op.residual:
            attrs = {**attrs, "residual": residual}
        return saved_out, inputs, attrs

    def _vjp(self, op: Op, position: int, refs: list[Any], attrs: dict[str, Any],
             residual: Var | None, g: Var, out: Var) -> Var | None:
        rule = INLINE.get((op.name, position))
        if rule is not None and not attrs and op.builtin and (
                self.inline_long or (op.name, position) not in SEVERAL_LINES):
            var = rule(self, g, out, *refs)
            if var is not NotImplemented:
                return var
        saved_out, inputs, attrs = self._saved(op, refs, attrs, residual, out)
        fn = op.vjps[position]  # type: ignore[index]
        label = op.inputs[position] if position < len(op.inputs) else position
        var = self.call(fn, [g, saved_out, *inputs], attrs, hint=f"d_{out.hint}",
                        fn_hint=f"{op.name}_vjp_{label}")
        if var.value is None:
            self.lines.pop()
            return None
        return self._as_array(var)

    def _joint(self, op: Op, refs: list[Any], attrs: dict[str, Any], residual: Var | None,
               g: Var, out: Var) -> tuple[Any, ...]:
        saved_out, inputs, attrs = self._saved(op, refs, attrs, residual, out)
        values = [a.value if type(a) is Var else a for a in [g, saved_out, *inputs]]
        result = op.vjp(*values, **{k: v.value if type(v) is Var else v  # type: ignore[misc]
                                    for k, v in attrs.items()})
        if not isinstance(result, (tuple, list)) or len(result) != len(refs):
            raise RegistryError(f"the VJP of op '{op.name}' must return a tuple with one "
                                f"gradient per input ({len(refs)})")
        vars_ = self.call(op.vjp, [g, saved_out, *inputs], attrs, hint=f"d_{out.hint}",
                          outputs=len(result), fn_hint=f"{op.name}_vjp", result=result)
        return tuple(None if v is None else self._as_array(v) for v in vars_)

    def _as_array(self, var: Var) -> Var:
        value = var.value
        if type(value) is not np.ndarray:
            if isinstance(value, Tensor):
                raise CompileError("a VJP returned a Tensor in a first-order backward pass")
            var.shape, var.dtype = np.shape(value), np.result_type(value)
        return var

    def _fit(self, g: Var, x: Var, op: Op, position: int) -> Var:
        """``g`` summed over the axes broadcasting added or stretched, in x's dtype (the work of
        engine.fit_gradient, with the axes found now)."""
        if g.shape != x.shape:
            try:
                axes = engine.broadcast_axes(g.shape, x.shape)
            except ShapeError as exc:
                raise engine.misfit(f"op '{op.name}'", position, exc) from None
            g = self.call(_ADD_REDUCE, [g], {"axis": axes}, hint=f"d_{x.hint}")
            if g.value.shape != x.shape:
                g = self.call(np.reshape, [g, x.shape], hint=f"d_{x.hint}")
        if g.dtype is not x.dtype and g.dtype != x.dtype:
            from autograd_lite import ops

            g = self.call(ops.astype.forward, [g], {"dtype": x.dtype}, hint=f"d_{x.hint}",
                          fn_hint="astype")
        return g


# -------------------------------------------------------------------- VJPs written inline
def _product(tr: Tracer, g: Var, factor: Any) -> Var:
    return tr.call(np.multiply, [g, factor], hint="t", elementwise=True)


def _transposed(tr: Tracer, x: Any) -> Any:
    if type(x) is not Var:
        return np.transpose(x)  # (a constant: transposed once, now)
    t = tr.call(np.transpose, [x], hint="T")
    t.transpose_of = x
    return t


def _matmul_a(tr: Tracer, g: Var, out: Var, a: Any, b: Any) -> Any:
    if np.ndim(_value(a)) != 2 or np.ndim(_value(b)) != 2:
        return NotImplemented
    return tr.call(np.matmul, [g, _transposed(tr, b)], hint="t")


def _matmul_b(tr: Tracer, g: Var, out: Var, a: Any, b: Any) -> Any:
    if np.ndim(_value(a)) != 2 or np.ndim(_value(b)) != 2:
        return NotImplemented
    return tr.call(np.matmul, [_transposed(tr, a), g], hint="t")


def _value(x: Any) -> Any:
    return x.value if type(x) is Var else x


def _one_minus(tr: Tracer, x: Var) -> Var:
    return tr.call(np.subtract, [1.0, x], hint="t", elementwise=True)


def _tanh_grad(tr: Tracer, g: Var, out: Var, x: Any) -> Var:
    grad = tr.call(np.subtract, [1.0, tr.call(np.multiply, [out, out], hint="t",
                                              elementwise=True)], hint="t", elementwise=True)
    return tr.call(np.multiply, [grad, g], hint="t", elementwise=True)


def _sigmoid_grad(tr: Tracer, g: Var, out: Var, x: Any) -> Var:
    grad = tr.call(np.multiply, [g, out], hint="t", elementwise=True)
    return tr.call(np.multiply, [grad, _one_minus(tr, out)], hint="t", elementwise=True)


# (op name, input position) -> the VJP as NumPy calls, identical to the registered one
# (tests/test_compile.py compares every compiled gradient with the eager tape's, bitwise).
INLINE: dict[tuple[str, int], Callable[..., Any]] = {
    ("add", 0): lambda tr, g, out, x, y: g,
    ("add", 1): lambda tr, g, out, x, y: g,
    ("sub", 0): lambda tr, g, out, x, y: g,
    ("sub", 1): lambda tr, g, out, x, y: tr.call(np.negative, [g], hint="t", elementwise=True),
    ("neg", 0): lambda tr, g, out, x: tr.call(np.negative, [g], hint="t", elementwise=True),
    ("mul", 0): lambda tr, g, out, x, y: _product(tr, g, y),
    ("mul", 1): lambda tr, g, out, x, y: _product(tr, g, x),
    ("div", 0): lambda tr, g, out, x, y: tr.call(np.true_divide, [g, y], hint="t",
                                                 elementwise=True),
    ("exp", 0): lambda tr, g, out, x: _product(tr, g, out),
    ("log", 0): lambda tr, g, out, x: tr.call(np.true_divide, [g, x], hint="t",
                                              elementwise=True),
    ("tanh", 0): _tanh_grad,
    ("sigmoid", 0): _sigmoid_grad,
    ("matmul", 0): _matmul_a,
    ("matmul", 1): _matmul_b,
    ("transform_input", 0): lambda tr, g, out, x: g,
}
SEVERAL_LINES = {("tanh", 0), ("sigmoid", 0), ("matmul", 0), ("matmul", 1)}


# --------------------------------------------------------------------- from lines to code
def _roots(value: Any) -> list[int]:
    if isinstance(value, np.ndarray):
        return [id(_root(value))]
    if isinstance(value, (tuple, list)):
        return [r for v in value for r in _roots(v)]
    return []


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The cyclic garbage collector off: tracing and writing a program make many objects that
    all live until the end (no cycles to find), and a long program's full collections, each
    walking all of them, would otherwise take most of the time."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _identifier(text: str) -> str:
    if text.isidentifier() and not keyword.iskeyword(text):
        return text
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in text).strip("_") or "v"
    return f"v_{name}" if name[0].isdigit() or keyword.iskeyword(name) else name


class Program:
    """The lines kept for ``outputs``, with buffers reused, as a named Python function."""

    def __init__(self, tracer: Tracer, inputs: list[Var], outputs: list[Any], name: str,
                 structure: Any = None) -> None:
        self.structure = structure
        lines = tracer.lines
        # Outputs the caller will own: a copy where the array is also an input's, a
        # constant's, another output's, or read-only.
        owners: dict[int, Any] = {r: v for v in (*inputs, *tracer.constants)
                                  for r in _roots(v.value)}
        results = []
        for out in outputs:
            if type(out) is Var:
                roots = _roots(out.value)
                if any(r in owners for r in roots) or not out.value.flags.writeable:
                    copy = tracer.call(np.array, [out], hint=out.hint)
                    copy.grad_of, copy.tensor = out.grad_of, out.tensor
                    out = copy
                owners.update((r, out) for r in _roots(out.value))
            results.append(out)
        # Dead lines: what no output needs.
        needed = {r for r in results if type(r) is Var}  # (a Var hashes by identity)
        kept: list[Line] = []
        for line in reversed(lines):
            if not needed.isdisjoint(line.targets):
                kept.append(line)
                needed.update(line.uses)
        kept.reverse()
        self.lines, self.inputs, self.results, self.name = kept, inputs, results, name
        self.namespace = dict(tracer.namespace)
        for v in inputs:  # (an argument named np, or like a function the program calls)
            while v.name in self.namespace:
                v.name += "_"
        self.namespace_names = sorted(self.namespace)  # what the source refers to, not defines
        self._source: str | None = None
        # whether fn returns the results in their structure (else a flat tuple)
        self.shaped = len(kept) <= LARGE and _shaped(structure, iter(results)) is not None
        if len(kept) > LARGE:  # Python's compiler takes about 10 µs a line: run the steps
            self.fn = self._steps()
        else:
            self._reuse_buffers(inputs, results)
            namespace = dict(self.namespace)
            exec(builtins.compile(self.source, f"<al.compile {name}>", "exec"), namespace)
            self.fn = namespace[name]
        for line in kept:  # the values seen while tracing can go
            for t in line.targets:
                if t is not None:
                    t.value = None
        for v in inputs:
            v.value = None

    @property
    def source(self) -> str:
        """The program as a Python function (one NumPy call a line)."""
        if self._source is None:
            with _no_cycle_collection():
                self._name_values(self.inputs)
                self._source = self._render(self.name, self.inputs, self.results)
        return self._source

    def _steps(self) -> Callable[..., tuple[Any, ...]]:
        """The program as a list of steps run by a loop (each step: the function of a line,
        the registers of its arguments and of its targets): the same calls as the source, for
        programs too long to compile quickly."""
        registers: list[Any] = []
        literals: dict[int, int] = {}  # id(Lit) -> its register
        for v in self.inputs:
            v.slot = len(registers)
            registers.append(None)

        def slot(a: Any) -> int:  # (a Var not yet met is a constant)
            if type(a) is Var:
                if a.slot < 0:
                    a.slot = len(registers)
                    registers.append(a.value)
                return a.slot
            i = literals.get(id(a))
            if i is None:
                i = literals[id(a)] = len(registers)
                registers.append(a.value)
            return i

        steps = []
        for line in self.lines:
            args = [a.slot if type(a) is Var and a.slot >= 0 else slot(a) for a in line.args]
            kwargs = [(k, slot(v)) for k, v in line.kwargs]
            targets = line.targets
            for t in targets:
                if t is not None:
                    t.slot = len(registers)
                    registers.append(None)
            if not line.unpacks:
                steps.append((line.fn_obj, args, kwargs, targets[0].slot, ()))
            else:
                steps.append((line.fn_obj, args, kwargs, -1,
                              tuple(-1 if t is None else t.slot for t in targets)))
        entry = [v.slot for v in self.inputs]
        exit_ = tuple(slot(r) for r in self.results)

        def run(*arrays: Any) -> tuple[Any, ...]:
            regs = registers.copy()
            for i, array in zip(entry, arrays):
                regs[i] = array
            for fn, args, kwargs, target, targets in steps:
                if kwargs:
                    value = fn(*[regs[i] for i in args], **{k: regs[i] for k, i in kwargs})
                else:
                    value = fn(*[regs[i] for i in args])
                if target >= 0:
                    regs[target] = value
                else:
                    for i, v in zip(targets, value):
                        if i >= 0:
                            regs[i] = v
            return tuple(regs[i] for i in exit_)

        return run

    def _reuse_buffers(self, inputs: list[Var], results: list[Any]) -> None:
        """Give an element-wise line ``out=`` an operand that dies there: an array this
        program allocated, of the result's shape and dtype, that nothing alive still views."""
        forever = len(self.lines)
        last: dict[int, int] = {}
        for i, line in enumerate(self.lines):
            for v in line.uses:
                last[id(v)] = i
        for r in results:
            if type(r) is Var:
                last[id(r)] = forever
        sharing: dict[int, list[Var]] = {}
        for v in inputs:
            for r in _roots(v.value):
                sharing.setdefault(r, []).append(v)
        for line in self.lines:
            for t in line.targets:
                if t is not None:
                    for r in _roots(t.value):
                        sharing.setdefault(r, []).append(t)
        for i, line in enumerate(self.lines):
            target = line.targets[0]
            if not line.elementwise or type(target.value) is not np.ndarray:
                continue
            for v in line.args:
                if (type(v) is Var and v.kind == "value" and type(v.value) is np.ndarray
                        and v.value.base is None and v.value.flags.writeable
                        and v.shape == target.shape and v.dtype == target.dtype
                        and last.get(id(v)) == i
                        and all(w is v or (last.get(id(w), -1) <= i and w.kind == "value")
                                for w in sharing[id(v.value)])):
                    line.out = v
                    # the result lives in v's buffer from here on
                    sharing[id(v.value)].append(target)
                    sharing.setdefault(id(target.value), []).append(v)
                    break

    def _name_values(self, inputs: list[Var]) -> None:
        taken = (set(self.namespace) | {v.name for v in inputs} | set(keyword.kwlist)
                 | set(dir(builtins)))  # (no builtin shadowed: sum, max, abs)
        counts: dict[str, int] = {}
        identifiers: dict[str, str] = {}

        def fresh(base: str) -> str:
            identifier = identifiers.get(base)
            if identifier is None:
                identifier = identifiers[base] = _identifier(base)
            base = identifier
            n = counts.get(base, 0)
            name = base if n == 0 and base not in taken else f"{base}_{n + 1}"
            while name in taken:
                n += 1
                name = f"{base}_{n + 1}"
            counts[base] = n + 1
            taken.add(name)
            return name

        for line in self.lines:
            for t in line.targets:
                if t is None:
                    continue
                if t.grad_of is not None:
                    t.name = fresh(f"d_{t.grad_of.name}")
                elif t.transpose_of is not None:
                    t.name = fresh(f"{t.transpose_of.name}_T")
                elif t.tensor is not None and t.tensor._name:
                    t.name = fresh(t.tensor._name)
                else:
                    t.name = fresh(t.hint)

    def _render(self, name: str, inputs: list[Var], results: list[Any]) -> str:
        def show(a: Any) -> str:
            return a.name if type(a) is Var else a

        # Large arrays are deleted after their last use, so the allocator can hand their
        # memory to the next ones (locals otherwise live until the function returns).
        last: dict[Var, int] = {}
        for i, line in enumerate(self.lines):
            for v in line.uses:
                last[v] = i
        for r in results:
            last[r] = len(self.lines)
        dying: dict[int, list[str]] = {}
        for line in self.lines:
            for t in line.targets:
                if (t is not None and type(t.value) is np.ndarray
                        and t.value.nbytes >= DELETE_FROM and t in last):
                    dying.setdefault(last[t], []).append(t.name)
        body = []
        for i, line in enumerate(self.lines):
            args = [a.name if type(a) is Var else a for a in line.args]
            if line.kwargs:
                args += [f"{k}={show(v)}" for k, v in line.kwargs]
            if line.out is not None:
                args.append(f"out={line.out.name}")
            targets = line.targets
            targets = (", ".join("_" if t is None else t.name for t in targets)
                       + ("," if len(targets) == 1 else "") if line.unpacks else targets[0].name)
            text = f"    {targets} = {line.fn}({', '.join(args)})"
            if line.fn == "np.transpose" and len(args) == 1:  # (the same view, without
                text = f"    {targets} = {args[0]}.T"             # np.transpose's Python)
            if len(text) > 99:  # one argument a line
                text = f"    {targets} = {line.fn}(\n" + "".join(
                    f"        {a},\n" for a in args) + "    )"
            body.append(text)
            if i in dying:
                body.append(f"    del {', '.join(dying[i])}")
        shaped = _shaped(self.structure, iter(show(r) for r in results)) if self.shaped else None
        if shaped is not None:
            body.append(f"    return {shaped[1:-1] if shaped[0] == '(' else shaped}"
                        if shaped.endswith(")") and not shaped.endswith(",)") else
                        f"    return {shaped}")
        else:
            shown = ", ".join(show(r) for r in results)
            body.append(f"    return ({shown},)" if len(results) == 1 else f"    return {shown}")
        header = f"def {name}({', '.join(v.name for v in inputs)}):"
        return "\n".join([header, *body]) + "\n"


def _shaped(structure: Any, leaves: Any) -> str | None:
    """The source of ``structure`` (func._flatten's) with ``leaves`` in it, or None for a
    container it cannot spell (a namedtuple)."""
    if structure is None:
        return None
    kind = structure[0]
    if kind == "leaf":
        return str(next(leaves))
    if kind == "none":
        return "None"
    if kind is dict:
        parts = [_shaped(child, leaves) for child in structure[2]]
        keys = structure[1]
        if None in parts or not all(_literal(k) is not None for k in keys):
            return None
        return "{" + ", ".join(f"{_literal(k)}: {p}" for k, p in zip(keys, parts)) + "}"
    if kind is tuple or kind is list:
        parts = [_shaped(child, leaves) for child in structure[1]]
        if None in parts:
            return None
        if kind is list:
            return f"[{', '.join(parts)}]"  # type: ignore[arg-type]
        return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"  # type: ignore
    return None


# ------------------------------------------------------------------------------ compiling
def _transform_of(f: Callable[..., Any]) -> tuple[str, Callable[..., Any], Any, bool] | None:
    """("value_and_grad" or "grad", loss, argnums, has_aux) when ``f`` was made by
    ``func.value_and_grad`` or ``func.grad`` (which label what they make); None otherwise."""
    return getattr(f, "transform", None)


def _freeze(structure: Any) -> Any:
    if isinstance(structure, (list, tuple)):
        return tuple(_freeze(s) for s in structure)
    return structure


class _RandomGuard:
    """Refuses random draws from the global generators while tracing (their values would be
    frozen into the program), and ``np.random.default_rng()`` without a seed."""

    def __enter__(self) -> _RandomGuard:
        self.numpy_state, self.python_state = np.random.get_state(), random.getstate()
        self.default_rng = np.random.default_rng

        def default_rng(seed: Any = None) -> np.random.Generator:
            if seed is None:
                raise CompileError(
                    "np.random.default_rng() without a seed inside a function being compiled: "
                    "its draws would be frozen into the program. Pass the seed as an argument "
                    "(an int: a static argument, so each seed gets its own program).")
            return self.default_rng(seed)

        np.random.default_rng = default_rng
        return self

    def __exit__(self, *exc: Any) -> None:
        np.random.default_rng = self.default_rng
        if exc[0] is not None:
            return
        now = np.random.get_state()
        if not all(np.array_equal(a, b) for a, b in zip(now, self.numpy_state)):
            np.random.set_state(self.numpy_state)
            raise CompileError(
                "a random draw from NumPy's global generator (np.random.*) inside a function "
                "being compiled: its values would be frozen into the program. Draw outside and "
                "pass the values as an argument, or seed a generator from an int argument "
                "(np.random.default_rng(seed)).")
        if random.getstate() != self.python_state:
            raise CompileError(
                "a random draw from Python's random module inside a function being compiled: "
                "its values would be frozen into the program. Draw outside and pass the values "
                "as an argument.")


_SIGNATURE = operator.attrgetter("__class__", "shape", "dtype")  # what a program is for


def compiled_or_none(f: Callable[..., Any], *arrays: np.ndarray) -> Compiled | None:
    """``al.compile(f)`` traced for ``arrays``, or None when f cannot be traced or fails while
    tracing: for callers to whom compiling is only a speed-up (gradcheck's and the verifier's
    finite differences), which then run f as it is and see its own errors. Warnings raised
    while tracing are dropped (f's eager evaluations raise them)."""
    compiled = Compiled(f)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled(*arrays)
    except Exception:
        return None
    return compiled


class Compiled:
    """``al.compile(f)``: call it as ``f``; the first call for each input signature traces."""

    def __init__(self, f: Callable[..., Any]) -> None:
        if not callable(f):
            raise CompileError(f"al.compile: expected a function, got {type(f).__name__}")
        self.f = f
        self.transform = _transform_of(f)
        if self.transform is None and getattr(f, "__module__", "") == "autograd_lite.func":
            raise CompileError(
                f"al.compile: {f.__qualname__.split('.')[0]} is not supported; compile the "
                "transform func.value_and_grad(loss) or func.grad(loss), or a function of arrays")
        self.cache: dict[Any, tuple[Program, Any]] = {}
        self._fast: dict[tuple[Any, ...], Program] = {}  # arrays-only calls: shapes, dtypes
        self._last: Program | None = None
        self.__name__ = getattr(f, "__name__", "f")
        self.__doc__ = getattr(f, "__doc__", None)

    @property
    def source(self) -> str:
        """The generated code of the most recently traced (or called) signature."""
        if self._last is None:
            raise CompileError("compiled.source: nothing traced yet; call the compiled function "
                               "(or compiled.source_for(*args)) first")
        return self._last.source

    def source_for(self, *args: Any, **kwargs: Any) -> str:
        """The generated code for these arguments (traced if not cached yet)."""
        return self._program(args, kwargs)[0][0].source

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs:  # the common call, arrays only: one dictionary look-up
            try:
                program = self._fast.get(tuple(map(_SIGNATURE, args)))
            except (AttributeError, TypeError):  # (an argument that is no array)
                program = None
            if program is not None:
                self._last = program
                return program.fn(*args)
        (program, structure), arrays = self._program(args, kwargs)
        if program is None:  # called while tracing an enclosing compiled function
            return self.f(*args, **kwargs)
        if program.shaped:
            if not kwargs and all(type(a) is np.ndarray for a in args):
                self._fast[tuple(map(_SIGNATURE, args))] = program
            return program.fn(*arrays)
        from autograd_lite.func import _unflatten

        return _unflatten(structure, program.fn(*arrays))

    def _program(self, args: tuple[Any, ...], kwargs: dict[str, Any]
                 ) -> tuple[tuple[Any, Any], list[np.ndarray]]:
        from autograd_lite.func import _flatten

        leaves, structure = _flatten((args, kwargs))
        key: list[Any] = [_freeze(structure)]
        arrays = []
        normalized = []
        for leaf in leaves:
            if type(leaf) is Traced:
                return (None, None), []
            if isinstance(leaf, Tensor):
                if leaf.requires_grad:
                    raise CompileError(
                        "al.compile: an argument is a Tensor that requires grad (or has a "
                        "history); a compiled function takes and returns arrays and records "
                        "nothing. Pass arrays, and compile func.grad(f) for gradients.")
                leaf = leaf._data
            if isinstance(leaf, np.generic) and leaf.dtype.kind in "fiub":
                leaf = np.asarray(leaf)  # a NumPy scalar: a 0-d array, as an argument
            normalized.append(leaf)
            if isinstance(leaf, np.ndarray):
                key.append((leaf.shape, leaf.dtype.str))
                arrays.append(leaf)
            elif isinstance(leaf, (np.random.Generator, np.random.RandomState,
                                   np.random.BitGenerator, random.Random)):
                raise CompileError(
                    "al.compile: a random generator as an argument: its draws inside f would be "
                    "frozen into the program at tracing. Pass an int seed instead (a static "
                    "argument, so each seed gets its own program) and build the generator "
                    "inside f with np.random.default_rng(seed).")
            else:
                try:
                    hash(leaf)
                except TypeError:
                    raise CompileError(
                        f"al.compile: an argument of type {type(leaf).__name__} is neither an "
                        "array nor a hashable static value (a number, string, None)") from None
                key.append(("static", type(leaf), leaf))
        frozen = tuple(key)
        entry = self.cache.get(frozen)
        if entry is None:
            from autograd_lite.func import _unflatten

            args, kwargs = _unflatten(structure, normalized)
            with _no_cycle_collection():
                entry = self.cache[frozen] = self._trace(tuple(args), kwargs)
        self._last = entry[0]
        return entry, arrays

    def _trace(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Program, Any]:
        from autograd_lite.func import _flatten

        if current_mode().forward_levels:
            raise CompileError("al.compile: tracing inside forward mode (func.jvp, jacfwd) is "
                               "not supported; compile the inner function alone")
        target = self.f if self.transform is None else self.transform[1]
        try:
            names = list(inspect.signature(target).parameters)
        except (TypeError, ValueError):
            names = []
        transform = self.transform
        argnums: tuple[int, ...] = ()
        arg_vars: dict[int, list[Var]] = {}
        if transform is not None:
            from autograd_lite.func import _argnums

            argnums = _argnums(transform[2], len(args), "grad")
            for i in argnums:
                arg_vars[i] = []
        tracer = Tracer()
        inputs: list[Var] = []
        saved: list[tuple[np.ndarray, np.ndarray]] = []

        def traced(value: Any, name: str, diff: bool, position: int = -1) -> Any:
            leaves, structure = _flatten(value)
            out = []
            for j, leaf in enumerate(leaves):
                array = leaf._data if isinstance(leaf, Tensor) else leaf
                if not isinstance(array, np.ndarray):
                    out.append(leaf)
                    continue
                if diff and array.dtype.kind != "f":
                    raise DTypeError(
                        f"grad: cannot differentiate with respect to a {array.dtype} argument "
                        f"'{name}' of shape {array.shape}; pass it through an argument not in "
                        "argnums, or convert it with .astype(np.float64).")
                leaf_name = name if len(leaves) == 1 else f"{name}_{j}"
                tensor = tracer.input(array, _identifier(leaf_name), diff)
                inputs.append(tensor._var)
                arg_vars.setdefault(position, []).append(tensor._var)
                saved.append((array, array.copy()))
                out.append(tensor)
            from autograd_lite.func import _unflatten

            return _unflatten(structure, out)

        call_args = [traced(a, names[i] if i < len(names) else f"arg{i}", i in argnums, i)
                     for i, a in enumerate(args)]
        call_kwargs = {k: traced(v, k, False) for k, v in kwargs.items()}
        registry.TRACERS.append(tracer)
        try:
            with _RandomGuard():
                result = target(*call_args, **call_kwargs)
        finally:
            registry.TRACERS.remove(tracer)
        for array, copy in saved:
            if not np.array_equal(array, copy, equal_nan=array.dtype.kind == "f"):
                raise CompileError("al.compile: f changed one of its input arrays in place "
                                   "while being traced; a compiled function must leave its "
                                   "inputs unchanged (compute a new value instead)")
        outputs, structure = self._outputs(tracer, result, args, arg_vars, argnums)
        name = _identifier(getattr(target, "__name__", "f"))
        if name == "v_lambda" or name in tracer.namespace:
            name = "compiled_f"
        program = Program(tracer, inputs, outputs, name, structure)
        return program, structure

    def _outputs(self, tracer: Tracer, result: Any, args: tuple[Any, ...],
                 arg_vars: dict[int, list[Var]], nums: tuple[int, ...]
                 ) -> tuple[list[Any], Any]:
        from autograd_lite.func import _flatten, _split_aux

        def ref(leaf: Any) -> Any:
            if type(leaf) is Traced:
                return leaf._var
            if isinstance(leaf, Tensor):
                leaf = leaf._data
            if isinstance(leaf, (np.ndarray, int, float, np.generic)):
                return tracer.call(np.array, [np.asarray(leaf)], hint="constant")
            return tracer.refer(leaf)

        if self.transform is None:
            leaves, structure = _flatten(result)
            return [ref(x) for x in leaves], structure
        kind, _, argnums, has_aux = self.transform
        out, aux = _split_aux(result, has_aux, "grad")
        from autograd_lite.func import _require_scalar, _unflatten

        _require_scalar(out)

        wrt = [v for i in nums for v in arg_vars[i]]
        loss = out._var if type(out) is Traced else None
        grads = tracer.backward(loss, wrt) if loss is not None else [None] * len(wrt)
        grads = [tracer.call(np.zeros, [x.shape], {"dtype": x.dtype}) if g is None else g
                 for g, x in zip(grads, wrt)]
        for g, x in zip(grads, wrt):
            if g is not x:
                g.grad_of = x
        per_arg, start = [], 0
        for i in nums:
            count = len(arg_vars[i])
            per_arg.append(_unflatten(_flatten(args[i])[1], grads[start:start + count]))
            start += count
        gradient = per_arg[0] if isinstance(argnums, int) else tuple(per_arg)
        value = ref(out)
        if has_aux:
            aux_leaves, aux_structure = _flatten(aux)
            value = (value, _unflatten(aux_structure, [ref(x) for x in aux_leaves]))
        whole = (value, gradient) if kind == "value_and_grad" else (
            (gradient, value[1]) if has_aux else gradient)
        leaves, structure = _flatten(whole)
        return leaves, structure


def compile(f: Callable[..., Any]) -> Compiled:
    """``f`` traced once per input signature into generated NumPy code (see the module doc).

    >>> step = al.compile(al.func.value_and_grad(loss, argnums=(1, 2)))
    >>> value, (dW, db) = step(X, W, b)   # traced now; later calls run the generated code
    >>> print(step.source)
    """
    return Compiled(f)


def backward_source(loss: Callable[..., Any], *args: Any, argnums: Any = 0) -> str:
    """The generated NumPy code of ``loss``'s forward and backward pass for these arguments:
    the source of ``compile(func.value_and_grad(loss, argnums))``."""
    from autograd_lite import func

    return compile(func.value_and_grad(loss, argnums=argnums)).source_for(*args)
