"""Function transforms: ``grad``, ``value_and_grad``, ``vjp``, ``jvp``, ``linearize``,
``jacrev``, ``jacfwd``, ``hessian`` and ``hvp`` (names as in ``torch.func``, semantics as in JAX).

A transform takes a function ``f`` written with autograd_lite and returns a function (or, for
``vjp``, ``jvp``, ``linearize`` and ``hvp``, evaluates at given points). Arguments are NumPy
arrays, Python numbers or Tensors, and tuples, lists or dicts of them: a container is
differentiated leaf by leaf and its derivative has the same structure. Results are NumPy arrays;
inside another transform (or given Tensors that require grad) they are Tensors carrying their
history, which is how every transform composes with every other.

Reverse mode (``vjp`` and what is built on it) records ``f`` on the tape and runs the backward
pass, with ``create_graph=True`` when nested so that the gradient can be differentiated again.
Forward mode (``jvp`` and what is built on it) opens a level of :mod:`autograd_lite.forward_mode`
and evaluates ``f`` once, every op carrying its output's tangent through its JVP rule.

Each transform gives its function fresh variables (an identity op ``transform_input`` on a
tensor with history, a new leaf otherwise), so a closure over an outer variable is a constant to
the inner transform and nested levels never mix their perturbations.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

import numpy as np

from autograd_lite import engine, forward_mode, ops
from autograd_lite.errors import DTypeError, InputValueError, ShapeError
from autograd_lite.modes import enable_grad
from autograd_lite.registry import Op, apply
from autograd_lite.tensor import NO_SETTINGS, Tensor, _new_tensor, to_array

__all__ = ["grad", "hessian", "hvp", "jacfwd", "jacrev", "jvp", "linearize", "value_and_grad",
           "vjp"]

_DEPTH: ContextVar[int] = ContextVar("autograd_lite_transform_depth", default=0)

# A transform's fresh variable: the identity, recorded (so the tape and the tangents see a new
# value whose history is the argument's).
_INPUT = Op("transform_input", lambda x: x, (lambda g, out, x: g,), saves="none",
            jvp=(lambda t, out, x: t,), doc="x  ·  g (a transform's own copy of its argument)")


# --------------------------------------------------------------------------------- pytrees
def _flatten(tree: Any) -> tuple[list[Any], Any]:
    """The leaves of nested tuples, lists and dicts (None is an empty subtree), and the
    structure to rebuild them with :func:`_unflatten`."""
    leaves: list[Any] = []

    def walk(node: Any) -> Any:
        if node is None:
            return ("none",)
        if isinstance(node, (tuple, list)):
            return (type(node), [walk(child) for child in node])
        if isinstance(node, dict):
            keys = list(node)
            return (dict, keys, [walk(node[k]) for k in keys])
        leaves.append(node)
        return ("leaf",)

    return leaves, walk(tree)


def _unflatten(structure: Any, leaves: Sequence[Any]) -> Any:
    it = iter(leaves)

    def build(node: Any) -> Any:
        kind = node[0]
        if kind == "leaf":
            return next(it)
        if kind == "none":
            return None
        if kind is dict:
            return {k: build(child) for k, child in zip(node[1], node[2])}
        children = [build(child) for child in node[1]]
        if kind is tuple or kind is list:
            return kind(children)
        return kind(*children)  # a namedtuple

    return build(structure)


# ------------------------------------------------------------------------------ arguments
@contextlib.contextmanager
def _transforming() -> Iterator[None]:
    """Mark the block as inside a transform: transforms called there return Tensors."""
    token = _DEPTH.set(_DEPTH.get() + 1)
    try:
        yield
    finally:
        _DEPTH.reset(token)


def _nested(leaves: Sequence[Any]) -> bool:
    """Whether results must be Tensors with history: inside another transform, or given
    Tensors that belong to a graph."""
    return _DEPTH.get() > 0 or any(type(x) is Tensor and x.requires_grad for x in leaves)


def _as_tensor(value: Any, what: str) -> Tensor:
    tensor = value if type(value) is Tensor else _new_tensor(to_array(value, what), None)
    if tensor.dtype.kind != "f":
        raise DTypeError(f"{what}: cannot differentiate with respect to a {tensor.dtype} value "
                         f"of shape {tensor.shape}; only floating-point arguments have "
                         "derivatives. Pass integer data (labels, indices) through an argument "
                         "not in argnums, or convert it with .astype(np.float64).")
    return tensor


def _reverse_variable(value: Any, what: str) -> Tensor:
    """A fresh tensor with ``value``'s value, history and tangents that reverse mode can take
    the gradient with respect to."""
    fresh = apply(_INPUT, (_as_tensor(value, what),), NO_SETTINGS)
    if fresh._node is None:  # the argument had no history: a leaf of its own
        fresh._requires_grad = True
    return fresh


def _forward_variable(value: Any, tangent: Any, level: int, what: str) -> Tensor:
    """A fresh tensor with ``value``'s value and history, carrying ``tangent`` at ``level``."""
    fresh = apply(_INPUT, (_as_tensor(value, what),), NO_SETTINGS)
    if tangent is not None:
        if type(tangent) is not Tensor:
            tangent = to_array(tangent, f"{what} tangent")
        if tangent.shape != fresh.shape:
            raise ShapeError(f"{what}: the tangent has shape {tangent.shape} but the primal has "
                             f"shape {fresh.shape}; they must match.")
        if tangent.dtype != fresh.dtype:
            tangent = (ops.astype(tangent, dtype=fresh.dtype) if type(tangent) is Tensor
                       else tangent.astype(fresh.dtype))
        forward_mode.set_tangent(fresh, level, tangent)
    return fresh


def _argnums(argnums: int | Sequence[int], count: int, name: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or not all(isinstance(i, int) for i in nums):
        raise InputValueError(f"{name}: argnums must be an int or a non-empty tuple of ints, "
                              f"got {argnums!r}")
    for i in nums:
        if not -count <= i < count:
            raise InputValueError(f"{name}: argnums {argnums!r} is out of range for a call with "
                                  f"{count} positional argument(s)")
    return tuple(i % count for i in nums)


def _partial(f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
             nums: tuple[int, ...]) -> Callable[..., Any]:
    """f as a function of the arguments at ``nums`` only, the others fixed."""
    def g(*chosen: Any) -> Any:
        full = list(args)
        for i, value in zip(nums, chosen):
            full[i] = value
        return f(*full, **kwargs)
    return g


def _split_aux(result: Any, has_aux: bool, name: str) -> tuple[Any, Any]:
    if not has_aux:
        return result, None
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise InputValueError(f"{name}(..., has_aux=True): f must return a pair (output, aux), "
                              f"got {type(result).__name__}")
    return result[0], result[1]


# -------------------------------------------------------------------------------- results
def _result(value: Any, nested: bool, inputs: Sequence[Any] = ()) -> Any:
    """A transform's output: a Tensor when nested, else a NumPy array the caller owns."""
    if nested:
        return value if type(value) is Tensor else _new_tensor(np.asarray(value), None)
    array = value._data if type(value) is Tensor else np.asarray(value)
    if not array.flags.writeable or any(
            isinstance(x, np.ndarray) and np.may_share_memory(array, x) for x in inputs):
        array = np.array(array)
    return array


def _aux_result(aux: Any, nested: bool) -> Any:
    if nested:
        return aux
    leaves, structure = _flatten(aux)
    return _unflatten(structure, [x._data if type(x) is Tensor else x for x in leaves])


def _shape(value: Any) -> tuple[int, ...]:
    return value.shape if isinstance(value, Tensor) else np.shape(value)


def _require_scalar(out: Any) -> None:
    """grad and value_and_grad differentiate a single-element output: a scalar loss."""
    if isinstance(out, (tuple, list, dict)) or int(np.prod(_shape(out))) != 1:
        shape = "a container" if isinstance(out, (tuple, list, dict)) else (
            f"shape {_shape(out)}")
        raise ShapeError(f"grad: f must return a single-element value (a scalar loss), got "
                         f"{shape}. Reduce it (sum or mean), or use jacrev/vjp for "
                         "non-scalar outputs.")


def _dtype(value: Any) -> np.dtype:
    return value.dtype if isinstance(value, (Tensor, np.ndarray, np.generic)) else (
        np.asarray(value).dtype)


def _zeros(like: Any, nested: bool) -> Any:
    zeros = np.zeros(_shape(like), dtype=_dtype(like))
    return _new_tensor(zeros, None) if nested else zeros


def _raw_inputs(leaves: Sequence[Any]) -> list[Any]:
    return [x._data if type(x) is Tensor else x for x in leaves]


# ---------------------------------------------------------------------------- reverse mode
def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """``(f(*primals), vjp_fn)`` (and ``aux`` with ``has_aux``): ``vjp_fn(cotangent)`` returns
    ``uᵀ J``, one gradient per primal (a tuple, each with its primal's structure), for a
    cotangent ``u`` with the output's structure. ``vjp_fn`` may be called many times."""
    leaves, structure = _flatten(primals)
    nested = _nested(leaves)
    with _transforming(), enable_grad():
        variables = [_reverse_variable(x, f"vjp: primal leaf {i}") for i, x in enumerate(leaves)]
        out, aux = _split_aux(f(*_unflatten(structure, variables)), has_aux, "vjp")
    out_leaves, out_structure = _flatten(out)
    raw_inputs = _raw_inputs(leaves)

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        c_leaves, c_structure = _flatten(cotangent)
        if c_structure != out_structure:
            raise ShapeError("vjp_fn: the cotangent must have the structure of f's output "
                             f"({len(out_leaves)} array(s)), got {len(c_leaves)}")
        create = nested or _nested(c_leaves)
        grads = _pull_back(out_leaves, variables, c_leaves, create)
        return _unflatten(structure, [_result(g, create, raw_inputs) for g in grads])

    results = (_result(out_leaves[0], nested, raw_inputs) if out_structure == ("leaf",)
               else _unflatten(out_structure, [_result(o, nested, raw_inputs)
                                               for o in out_leaves]), vjp_fn)
    return (*results, _aux_result(aux, nested)) if has_aux else results


def _pull_back(outs: Sequence[Any], variables: Sequence[Tensor], cotangents: Sequence[Any],
               create: bool) -> list[Any]:
    """Σ_k u_kᵀ ∂out_k/∂x for each variable x, by one backward pass."""
    roots, seeds = [], []
    for position, (out, u) in enumerate(zip(outs, cotangents)):
        if type(u) is not Tensor:
            u = to_array(u, f"vjp_fn: cotangent {position}")
        if u.shape != _shape(out):
            raise ShapeError(f"vjp_fn: cotangent {position} has shape {u.shape} but the output "
                             f"has shape {_shape(out)}; they must match.")
        if type(out) is Tensor and out.requires_grad:
            roots.append(out)
            seeds.append(u)
    grads: Sequence[Any] = [None] * len(variables)
    if roots:
        with enable_grad():
            grads = engine.grad(roots, list(variables), grad_outputs=seeds, retain_graph=True,
                                create_graph=create, allow_unused=True)
    return [_zeros(x._data, create) if g is None else g for g, x in zip(grads, variables)]


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable[..., Any]:
    """A function returning ``(f(*args), ∇f)`` (``((f, aux), ∇f)`` with ``has_aux``) for a
    scalar-valued ``f``: the gradient with respect to argument ``argnums`` (an int), or a tuple
    of gradients (a tuple of ints); each has its argument's structure."""
    def value_and_gradient(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), "grad")
        result = vjp(_partial(f, args, kwargs, nums), *(args[i] for i in nums),
                     has_aux=has_aux)
        out, pull = result[0], result[1]
        _require_scalar(out)
        seed = np.ones(_shape(out), dtype=_dtype(out))
        grads = pull(seed)
        grads = grads[0] if isinstance(argnums, int) else grads
        return ((out, result[2]) if has_aux else out), grads
    value_and_gradient.transform = ("value_and_grad", f, argnums, has_aux)  # (for al.compile)
    return value_and_gradient


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
         has_aux: bool = False) -> Callable[..., Any]:
    """A function returning the gradient of the scalar-valued ``f`` (``(∇f, aux)`` with
    ``has_aux``); see :func:`value_and_grad`. Not :func:`autograd_lite.grad`, which takes the
    gradient of tensors already computed (PyTorch's ``torch.autograd.grad``)."""
    both = value_and_grad(f, argnums, has_aux)

    def gradient(*args: Any, **kwargs: Any) -> Any:
        value, grads = both(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads
    gradient.transform = ("grad", f, argnums, has_aux)  # (read by al.compile)
    return gradient


# ---------------------------------------------------------------------------- forward mode
def _push_forward(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any],
                  has_aux: bool, name: str) -> tuple[Any, Any, Any, bool]:
    """Evaluate f once with tangents (None: a zero tangent) beside the primal leaves; returns
    (output, output tangent, aux, nested) with the output's structure."""
    leaves, structure = _flatten(tuple(primals))
    nested = _nested([*leaves, *tangents])
    raw_inputs = _raw_inputs([*leaves, *tangents])  # (results never alias them)
    with _transforming(), forward_mode.new_level() as level:
        variables = [_forward_variable(x, t, level, f"{name}: primal leaf {i}")
                     for i, (x, t) in enumerate(zip(leaves, tangents))]
        out, aux = _split_aux(f(*_unflatten(structure, variables)), has_aux, name)
        out_leaves, out_structure = _flatten(out)
        tangent_leaves = []
        for o in out_leaves:
            t = forward_mode.tangent_of(o, level)
            tangent_leaves.append(_zeros(o, nested) if t is None else _result(t, nested,
                                                                              raw_inputs))
    values = [_result(o, nested, raw_inputs) for o in out_leaves]
    return (_unflatten(out_structure, values), _unflatten(out_structure, tangent_leaves),
            aux, nested)


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any],
        has_aux: bool = False) -> tuple[Any, ...]:
    """``(f(*primals), J·tangents)`` (and ``aux`` with ``has_aux``) by forward mode: one
    evaluation of ``f`` carrying the tangents beside the values through each op's JVP rule.
    ``primals`` and ``tangents`` are tuples (or lists) of the same structure."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise InputValueError("jvp(f, primals, tangents): primals and tangents must be tuples "
                              "(one entry per argument of f), e.g. jvp(f, (x,), (v,))")
    leaves, structure = _flatten(tuple(primals))
    t_leaves, t_structure = _flatten(tuple(tangents))
    if t_structure != structure:
        raise ShapeError(f"jvp: tangents must have the structure of primals ({len(leaves)} "
                         f"array(s)), got {len(t_leaves)}")
    out, tangent, aux, nested = _push_forward(f, primals, t_leaves, has_aux, "jvp")
    return (out, tangent, _aux_result(aux, nested)) if has_aux else (out, tangent)


def linearize(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """``(f(*primals), jvp_fn)`` with ``jvp_fn(*tangents) = J·tangents`` at ``primals``. Each
    call of ``jvp_fn`` is one forward-mode evaluation of ``f`` (nothing is cached between
    calls beyond the primals)."""
    leaves, structure = _flatten(primals)
    out, _, _, _ = _push_forward(f, primals, [None] * len(leaves), False, "linearize")

    def jvp_fn(*tangents: Any) -> Any:
        t_leaves, t_structure = _flatten(tangents)
        if t_structure != structure:
            raise ShapeError("linearize: jvp_fn takes one tangent per primal, with its "
                             "structure")
        return _push_forward(f, primals, t_leaves, False, "linearize")[1]
    return out, jvp_fn


# ---------------------------------------------------------------------------- derivatives
def _basis(shape: tuple[int, ...], dtype: Any, index: int) -> np.ndarray:
    e = np.zeros(shape, dtype=dtype)
    e.reshape(-1)[index] = 1
    return e


def _stacked(parts: list[Any], shape: tuple[int, ...], like: Any, nested: bool) -> Any:
    """``parts`` (arrays of one shape) stacked on a new first axis, in ``shape``."""
    if not parts:
        return _zeros(np.zeros(shape, dtype=_dtype(like)), nested)
    return _result(ops.reshape(ops.stack(list(parts)), shape=shape), nested)


def jacrev(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
           has_aux: bool = False) -> Callable[..., Any]:
    """A function returning the Jacobian of ``f`` by reverse mode, one row (one backward pass)
    per output element; for an output of shape S and an argument of shape T it has shape
    S + T. Containers: the result has f's output structure, each leaf holding the argument's
    structure (a tuple over ``argnums`` when it is a tuple)."""
    def jacobian(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), "jacrev")
        result = vjp(_partial(f, args, kwargs, nums), *(args[i] for i in nums),
                     has_aux=has_aux)
        out, pull = result[0], result[1]
        out_leaves, out_structure = _flatten(out)
        in_leaves, in_structure = _flatten(tuple(args[i] for i in nums))
        nested = _nested(in_leaves)
        blocks = []
        for k, o in enumerate(out_leaves):
            shape = _shape(o)
            rows: list[list[Any]] = [[] for _ in in_leaves]
            for i in range(int(np.prod(shape))):
                cotangent = [_basis(_shape(p), _dtype(p), i) if j == k
                             else np.zeros(_shape(p), _dtype(p))
                             for j, p in enumerate(out_leaves)]
                grads, _ = _flatten(pull(_unflatten(out_structure, cotangent)))
                for j, g in enumerate(grads):
                    rows[j].append(g)
            per_input = [_stacked(rows[j], (*shape, *_shape(x)), x, nested)
                         for j, x in enumerate(in_leaves)]
            block = _unflatten(in_structure, per_input)
            blocks.append(block[0] if isinstance(argnums, int) else block)
        jac = _unflatten(out_structure, blocks)
        return (jac, result[2]) if has_aux else jac
    return jacobian


def jacfwd(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
           has_aux: bool = False) -> Callable[..., Any]:
    """A function returning the Jacobian of ``f`` by forward mode, one column (one forward
    evaluation with a basis tangent) per argument element; shape and structure as
    :func:`jacrev`."""
    def jacobian(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), "jacfwd")
        primals = tuple(args[i] for i in nums)
        g = _partial(f, args, kwargs, nums)
        in_leaves, in_structure = _flatten(primals)
        in_tensors = [x if type(x) is Tensor else to_array(x, "jacfwd") for x in in_leaves]
        columns: list[list[Any]] = [[] for _ in in_leaves]
        out = aux = None
        nested = _nested(in_leaves)
        for j, x in enumerate(in_tensors):
            for i in range(int(np.prod(x.shape))):
                tangents = [_basis(x.shape, x.dtype, i) if m == j else None
                            for m in range(len(in_leaves))]
                out, tangent, aux, nested = _push_forward(g, primals, tangents, has_aux,
                                                          "jacfwd")
                columns[j].append(_flatten(tangent)[0])
        if out is None:  # every argument is empty: evaluate once for the output's shape
            out, _, aux, nested = _push_forward(g, primals, [None] * len(in_leaves), has_aux,
                                                "jacfwd")
        out_leaves, out_structure = _flatten(out)
        blocks = []
        for k, o in enumerate(out_leaves):
            per_input = []
            for j, x in enumerate(in_tensors):
                shape = _shape(o)
                if not columns[j]:
                    per_input.append(_zeros(np.zeros((*shape, *x.shape), _dtype(o)), nested))
                    continue
                stacked = ops.stack([c[k] for c in columns[j]])
                moved = ops.transpose(stacked, axes=(*range(1, len(shape) + 1), 0))
                per_input.append(_result(ops.reshape(moved, shape=(*shape, *x.shape)), nested))
            block = _unflatten(in_structure, per_input)
            blocks.append(block[0] if isinstance(argnums, int) else block)
        jac = _unflatten(out_structure, blocks)
        return (jac, _aux_result(aux, nested)) if has_aux else jac
    return jacobian


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """A function returning the Hessian of ``f``, ``jacfwd(jacrev(f))`` (forward-over-reverse):
    for a scalar ``f`` of an argument of shape T, an array of shape T + T."""
    return jacfwd(jacrev(f, argnums), argnums)


def hvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]
        ) -> tuple[Any, Any]:
    """``(f(*primals), H·tangents)`` for a scalar ``f``, without forming the Hessian: forward
    mode through one reverse pass (the cost of a few evaluations of f). ``H·tangents`` is a
    tuple with one entry per primal, each with its primal's structure."""
    if not isinstance(primals, (tuple, list)):
        raise InputValueError("hvp(f, primals, tangents): primals and tangents must be tuples, "
                              "e.g. hvp(f, (x,), (v,))")
    both = value_and_grad(f, argnums=tuple(range(len(primals))))
    (value, _), (_, hv) = jvp(both, tuple(primals), tuple(tangents))
    return value, hv
