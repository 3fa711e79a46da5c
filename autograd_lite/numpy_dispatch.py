"""NumPy code that records itself: how ``np.exp(t)``, ``np.sum(t, axis=0)``, ``ndarray + t`` or
``np.linalg.inv(t)`` on a :class:`~autograd_lite.Tensor` become autograd_lite ops.

``Tensor`` implements NumPy's two dispatch protocols (NEP 13 ``__array_ufunc__`` and NEP 18
``__array_function__``) by calling :func:`array_ufunc` and :func:`array_function` here. Both
resolve the NumPy callable by its NAME, so any op registered under NumPy's name works at once:

* ``np.<name>`` → ``al.<name>``, ``np.linalg.<name>`` → ``al.linalg.<name>``; a ufunc also
  falls back to ``al.special.<name>`` (so SciPy's special-function ufuncs, ``scipy.special.erf``
  and kin, dispatch too); a few ufunc names map to the built-ins' (``multiply`` → ``mul``).
* The call is bound with the NumPy function's own signature (read once by
  ``inspect.signature``): the op's inputs are NumPy's leading parameters, by position; every
  other argument given is passed by NumPy's keyword name (an argument given as NumPy's default,
  such as ``out=None``, is dropped; NumPy's second names ``clip(min=, max=)`` and
  ``std(correction=)`` become the op's ``a_min``/``a_max`` and ``ddof``). An op's settings must
  therefore carry NumPy's names (``axis``, ``keepdims``, ``ddof`` …).
  An op taking a variadic ``*xs`` receives the elements of NumPy's sequence argument, and one
  that takes a sequence (``stack``, ``concatenate``) receives the sequence. A plain function
  (not an op) at ``al.<name>`` is called with the arguments exactly as given, so it must take
  NumPy's signature.
* Ufunc methods: ``reduce`` of add, multiply, maximum, minimum, logaddexp is ``sum``, ``prod``,
  ``amax``, ``amin``, ``logsumexp`` (NumPy's default ``axis=0``); ``accumulate`` of add and
  multiply is ``cumsum`` and ``cumprod``; ``outer`` of any binary ufunc with a rule broadcasts
  ``a`` against ``b`` (shape ``a.shape + b.shape``); ``at`` and ``reduceat`` are refused.
* Ufuncs with boolean results (comparisons, ``isnan``, ``logical_and`` …) give a boolean
  constant Tensor, like Tensor's comparison operators; functions whose result carries no
  gradient (``argmax``, ``shape``, ``allclose``, ``zeros_like`` …) return NumPy's own result.

What cannot be recorded is refused with :class:`UnsupportedFunctionError` naming the NumPy
function and, where there is one, the autograd_lite function to use: a NumPy function without a
gradient rule (never a silent constant), a ufunc option (``out=``, ``where=``, ``dtype=``,
``casting=`` …), complex numbers and the FFT.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from autograd_lite.errors import AutogradLiteError, SignatureError
from autograd_lite.registry import Op, apply
from autograd_lite.tensor import NO_SETTINGS, Tensor, _new_tensor, raw


class UnsupportedFunctionError(AutogradLiteError, TypeError):
    """A NumPy function, ufunc method or ufunc option applied to a Tensor that the tape cannot
    record (no gradient rule for it), with the autograd_lite function to use where one exists."""


# Ufuncs whose name autograd_lite does not export (the others resolve to al.<name>, NumPy's
# aliases included): fabs is abs; float_power is refused (NumPy computes it in float64 at
# least, where pow would keep float32).
UFUNC_ALIASES = {"fabs": "abs", "float_power": None}
# ufunc.reduce / ufunc.accumulate: the op computing them.
UFUNC_REDUCE = {"add": "sum", "multiply": "prod", "maximum": "amax", "minimum": "amin",
                "logaddexp": "logsumexp"}
UFUNC_ACCUMULATE = {"add": "cumsum", "multiply": "cumprod"}
# NumPy functions whose result has no gradient (integers, booleans, shapes, values that do not
# depend on the input's values): computed by NumPy on the arrays, returned as NumPy returns it.
WITHOUT_GRADIENT = frozenset({
    "shape", "ndim", "size", "argmax", "argmin", "argsort", "argwhere", "nonzero",
    "flatnonzero", "count_nonzero", "allclose", "isclose", "array_equal", "array_equiv",
    "result_type", "can_cast", "iscomplexobj", "isrealobj", "isreal", "iscomplex", "isscalar",
    "searchsorted", "zeros_like", "ones_like", "empty_like", "full_like", "any", "all",
    "isneginf", "isposinf", "unravel_index", "ravel_multi_index", "may_share_memory",
    "shares_memory", "min_scalar_type", "digitize", "bincount",
})
# What to use instead, for NumPy functions without a rule that users reach for.
HINTS = {
    "floor_divide": "al.floor(x / y) (its gradient is zero almost everywhere)",
    "fmod": "al.remainder (the sign of the result follows the divisor there)",
    "divmod": "al.floor(x / y) and al.remainder(x, y)",
    "cbrt": "x ** (1 / 3) for x > 0, or al.sign(x) * al.abs(x) ** (1 / 3) away from 0",
    "positive": "the tensor itself",
    "copy": "the tensor itself (recorded values are never changed in place)",
    "nansum": "al.sum(al.where(np.isnan(x), 0.0, x))",
    "nanmean": "al.sum(al.where(mask, x, 0.0)) / mask.sum() with mask = ~np.isnan(x)",
    "nanmax": "al.amax over al.where(np.isnan(x), -np.inf, x)",
    "nanmin": "al.amin over al.where(np.isnan(x), np.inf, x)",
    "median": "al.sort and indexing (the median's gradient goes to the middle element)",
    "logsumexp": "al.logsumexp",
    "heaviside": "al.where(x > 0, 1.0, 0.0) (zero gradient)",
    "copysign": "al.abs(x) * np.sign(y)",
    "ldexp": "x * 2.0 ** n",
}
# NumPy's alternative keyword names, as the op's names.
RENAMED = {"clip": {"min": "a_min", "max": "a_max"}, "var": {"correction": "ddof"},
           "std": {"correction": "ddof"}}
_COMPLEX = frozenset({"real", "imag", "conj", "conjugate", "angle", "real_if_close",
                      "iscomplex", "sort_complex"})
# Names in the autograd_lite namespaces that are not NumPy functions and never dispatch.
_NOT_NUMPY = frozenset({"grad", "gradcheck", "numerical_grad", "register_op", "get_op",
                        "list_ops", "op_families", "getitem", "scatter_add"})

_MISSING = object()
_UFUNCS: dict[Any, Callable[..., Any]] = {}  # ufunc -> what its __call__ runs
_FUNCTIONS: dict[Any, Callable[..., Any]] = {}  # NumPy function -> what it runs


# ------------------------------------------------------------------------------ resolving
def _namespace(module: str) -> Any:
    """The autograd_lite module mirroring a NumPy/SciPy namespace ('linalg', 'special'), or None
    while it does not exist."""
    try:
        return importlib.import_module(f"autograd_lite.{module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"autograd_lite.{module}":
            raise  # (the module exists but something it imports is missing)
        return None


def _lookup(name: str, namespaces: tuple[str, ...]) -> Any:
    """The dispatchable autograd_lite callable named ``name`` in the first namespace that has
    it ('' is the top level), or None."""
    if name in _NOT_NUMPY:
        return None
    for module in namespaces:
        space = importlib.import_module("autograd_lite") if module == "" else _namespace(module)
        target = getattr(space, name, None) if space is not None else None
        if isinstance(target, Op) or (
                inspect.isfunction(target)
                and (target.__module__ or "").startswith("autograd_lite.")):
            return target
    return None


def refusal(label: str, name: str, why: str = "") -> UnsupportedFunctionError:
    """The error for a NumPy function (shown as ``label``) that cannot be recorded."""
    if name in _COMPLEX or "fft" in label:
        return UnsupportedFunctionError(
            f"{label} on a Tensor: complex numbers and the FFT are out of scope for "
            "autograd_lite (real-valued float32/float64 only); work with real and imaginary "
            "parts as separate real tensors.")
    hint = HINTS.get(name)
    if hint is None:
        import autograd_lite as al
        close = difflib.get_close_matches(name, [n for n in dir(al) if not n.startswith("_")],
                                          n=1, cutoff=0.8)
        hint = f"al.{close[0]}" if close else None
    use = f"; use {hint} instead" if hint else ""
    return UnsupportedFunctionError(
        f"{label} has no gradient rule in autograd_lite, so it cannot be recorded on the tape"
        f"{why}{use}. (To compute it on the values without a gradient, call it on t.numpy().)")


def _ufunc_target(ufunc: np.ufunc) -> Callable[..., Any]:
    target = _UFUNCS.get(ufunc)
    if target is None:
        name = ufunc.__name__
        alias = UFUNC_ALIASES.get(name, name)
        target = _lookup(alias, ("", "special")) if alias else None
        if target is None:
            raise refusal(f"np.{name}", name)
        _UFUNCS[ufunc] = target
    return target


def _boolean(ufunc: np.ufunc) -> bool:
    """Whether every loop of the ufunc returns booleans (a comparison, isnan, logical_and …)."""
    return ufunc.nout == 1 and all(t.endswith("->?") for t in ufunc.types if "O" not in t)


# ------------------------------------------------------------------------------ __array_ufunc__
_NEUTRAL = {"where": (True,), "dtype": (None,), "casting": ("same_kind",), "order": ("K",),
            "subok": (True,)}


def _check_options(label: str, kwargs: dict[str, Any], allowed: tuple[str, ...] = ()) -> None:
    for key, value in kwargs.items():
        if key in allowed:
            continue
        if key == "out" and all(o is None for o in (value if type(value) is tuple else (value,))):
            continue
        if key != "out" and any(value is n or (type(value) is str and value == n)
                                for n in _NEUTRAL.get(key, ())):
            continue
        raise UnsupportedFunctionError(
            f"{label}(..., {key}=...) on a Tensor: '{key}=' cannot be recorded on the tape "
            "(a tape records values, not writes into arrays, masks or casts); call it without "
            f"'{key}=' and then assign the result, select with al.where(...), or cast with "
            ".astype(...)")


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple[Any, ...],
                kwargs: dict[str, Any]) -> Any:
    """Run ``ufunc.method(*inputs, **kwargs)`` as autograd_lite ops (Tensor.__array_ufunc__)."""
    if method == "__call__":
        if not kwargs:  # the common case first
            target = _UFUNCS.get(ufunc)
            if type(target) is Op and target.arity == len(inputs):
                return apply(target, inputs, NO_SETTINGS)
        label = f"np.{ufunc.__name__}"
        _check_options(label, kwargs)
        if _boolean(ufunc):
            return _new_tensor(np.asarray(ufunc(*[raw(a) for a in inputs])), None)
        if ufunc.nout != 1:
            raise refusal(label, ufunc.__name__, f" ({ufunc.nout} outputs)")
        return _ufunc_target(ufunc)(*inputs)
    name = ufunc.__name__
    label = f"np.{name}.{method}"
    if method in ("reduce", "accumulate"):
        _check_options(label, kwargs, ("axis", "keepdims") if method == "reduce" else ("axis",))
        table = UFUNC_REDUCE if method == "reduce" else UFUNC_ACCUMULATE
        target = _lookup(table[name], ("",)) if name in table else None
        if target is None:
            raise refusal(label, f"{name}.{method}",
                           f"; the {method}s with a rule: "
                           + ", ".join(f"np.{u}.{method} (al.{o})" for u, o in table.items()))
        (x,) = inputs
        settings = {"axis": kwargs.get("axis", 0)}
        if kwargs.get("keepdims", False):
            settings["keepdims"] = True
        return target(x, **settings)
    if method == "outer" and ufunc.nin == 2:
        _check_options(label, kwargs)
        a, b = inputs
        target = _ufunc_target(ufunc)
        from autograd_lite.ops import reshape
        shape = (*np.shape(raw(a)), *(1,) * np.ndim(raw(b)))
        return target(reshape(a, shape=shape), b)
    raise refusal(label, f"{name}.{method}",
                   " (of the ufunc methods, reduce, accumulate and outer have rules)")


# ------------------------------------------------------------------------ __array_function__
def _plan(func: Callable[..., Any]) -> Callable[..., Any]:
    """What running NumPy function ``func`` on tensors means: a function of (args, kwargs)."""
    module = getattr(func, "__module__", None) or ""
    name = getattr(func, "__name__", repr(func))
    if module == "numpy":  # (every public top-level NumPy function says so)
        label, namespaces = f"np.{name}", ("",)
    elif module.startswith("numpy."):
        sub = module.split(".")[1]
        label, namespaces = f"np{module[5:]}.{name}", (sub,)
    else:
        label, namespaces = f"{module}.{name}", ()
    if name in WITHOUT_GRADIENT and namespaces == ("",):
        return lambda args, kwargs: func(*_unwrap(args), **_unwrap(kwargs))
    if namespaces in (("fft",),):
        raise refusal(label, name)
    target = _lookup(name, namespaces) if namespaces and name not in _COMPLEX else None
    if target is None:
        raise refusal(label, name)
    if not isinstance(target, Op):  # a plain function taking NumPy's signature
        return lambda args, kwargs: target(*args, **kwargs)
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return lambda args, kwargs: target(*args, **kwargs)
    parameters = list(signature.parameters.values())
    first_variadic = bool(parameters) and parameters[0].kind is inspect.Parameter.VAR_POSITIONAL
    # an op with variadic inputs given NumPy's sequence, unless it takes one itself as stack
    # does (np.stack([a, b]) -> stack([a, b]))
    unpack = target.arity < 0 and not first_variadic and not target.sequence
    count = 1 if target.arity < 0 else target.arity
    by_position = [p.name for p in parameters
                   if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    by_keyword = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                           p.KEYWORD_ONLY)}
    any_keyword = any(p.kind is p.VAR_KEYWORD for p in parameters)
    defaults = {p.name: p.default for p in parameters if p.default is not p.empty}
    input_names = by_position[:count]
    renames = RENAMED.get(name, {})

    def refuse(args: tuple[Any, ...], kwargs: dict[str, Any]) -> SignatureError:
        try:
            signature.bind(*args, **kwargs)
        except TypeError as exc:
            return SignatureError(f"{label}: {exc}. Signature: {label}{signature}")
        return SignatureError(f"{label}: arguments do not match {label}{signature}")

    def run(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Bind as NumPy does (a fast equivalent of signature.bind), then call the op with its
        inputs by position and every other argument given by NumPy's keyword name; arguments
        equal to NumPy's defaults (out=None …) are dropped."""
        if first_variadic:
            inputs, given = list(args), dict(kwargs)
        else:
            if len(args) > len(by_position):
                raise refuse(args, kwargs)
            given = dict(zip(by_position, args))
            for key, value in kwargs.items():
                if key in given or not (key in by_keyword or any_keyword):
                    raise refuse(args, kwargs)
                given[key] = value
            for key, replaced in renames.items():  # NumPy's second name for an argument
                if key in given and given[key] is not defaults.get(key, _MISSING):
                    if replaced in given and given[replaced] is not defaults.get(replaced):
                        raise refuse(args, kwargs)
                    given[replaced] = given.pop(key)
            inputs = []
            for input_name in input_names:
                if input_name not in given:
                    break  # (the op takes its default for it, or names what is missing)
                inputs.append(given.pop(input_name))
            if unpack and inputs:
                inputs = list(inputs[0])
        settings = {key: value for key, value in given.items()
                    if value is not defaults.get(key, _MISSING)}
        try:
            return target(*inputs, **settings)
        except SignatureError as exc:  # name the NumPy function the user called
            raise SignatureError(f"{label} (recorded as al.{target.name}): {exc}") from None

    return run


def _unwrap(value: Any) -> Any:
    """Tensors (also inside lists, tuples and dicts) replaced by their arrays."""
    if isinstance(value, Tensor):
        return value._data
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def array_function(func: Callable[..., Any], types: Any, args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> Any:
    """Run NumPy function ``func(*args, **kwargs)`` as autograd_lite ops
    (Tensor.__array_function__)."""
    if not all(issubclass(t, (Tensor, np.ndarray)) for t in types):
        return NotImplemented  # another array library is involved: let it (or NumPy) decide
    plan = _FUNCTIONS.get(func)
    if plan is None:
        plan = _FUNCTIONS[func] = _plan(func)
    return plan(args, kwargs)
