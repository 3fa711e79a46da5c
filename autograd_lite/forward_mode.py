"""Forward-mode differentiation: tangents carried beside values, one op at a time.

A *level* is one forward-mode transform in progress (``func.jvp``, ``jacfwd``, ``hvp``, ...);
levels are numbered from a counter that never repeats, and the active ones sit in the mode
(``Mode.forward_levels``, outermost first). A value's tangents live beside it as a mapping
``{level: tangent}``: on the tape's :class:`Node` for a tensor with history (so the tensors that
``backward(create_graph=True)`` rebuilds from a node's saved inputs see the same tangents, which
is what makes forward-over-reverse work), on the :class:`Tensor` itself otherwise.

While a level is active, ``registry.apply`` calls :func:`push_tangents` after every op: for each
active level at which some input has a tangent, the op's JVP rule maps the input tangents
``ṫ = (ṫ₁, …, ṫₙ)`` to the output's tangent ``J ṫ = Σᵢ ∂f/∂xᵢ · ṫᵢ``. The rules are written with
differentiable ops, so a tangent is itself a value the tape records (reverse-over-forward) and
that outer levels differentiate again (forward-over-forward). The tangent at level L is computed
with only the levels outside L active: inner levels never reach an outer level's tangent, so two
levels cannot mix their perturbations.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from autograd_lite.errors import GraphError, RegistryError, ShapeError
from autograd_lite.modes import _MODE, Mode, current_mode, using_mode
from autograd_lite.tensor import Tensor, raw

if TYPE_CHECKING:
    from autograd_lite.registry import Op

_LEVELS = itertools.count(1)  # level numbers: never reused, so a stale tangent is never read


@contextlib.contextmanager
def new_level() -> Iterator[int]:
    """Open a forward-mode level for the block and yield its number."""
    level = next(_LEVELS)
    with using_mode(forward_levels=(*current_mode().forward_levels, level)):
        yield level


def _holder(tensor: Tensor) -> Any:
    """Where a tensor's tangents live: its node if it has history, else the tensor."""
    return tensor._node if tensor._node is not None else tensor


def tangent_of(value: Any, level: int) -> Any:
    """The tangent of ``value`` at ``level`` (None: no tangent, i.e. zero)."""
    if type(value) is not Tensor:
        return None
    tangents = getattr(_holder(value), "_tangents", None)
    return None if tangents is None else tangents.get(level)


def set_tangent(tensor: Tensor, level: int, tangent: Any) -> None:
    """Give ``tensor`` the tangent ``tangent`` at ``level`` (its shape and dtype)."""
    holder = _holder(tensor)
    tangents = getattr(holder, "_tangents", None)
    if tangents is None:
        tangents = holder._tangents = {}
    tangents[level] = tangent


def push_tangents(op: Op, args: tuple[Any, ...], attrs: Any, out: Tensor) -> Tensor:
    """Give ``out = op(*args, **attrs)`` its tangent at every active level where an input has
    one, from the op's JVP rule; returns ``out``."""
    if out._data.dtype.kind != "f":  # integer and boolean results carry no tangent
        return out
    mode = current_mode()
    for i, level in enumerate(mode.forward_levels):
        tangents = None
        for k, arg in enumerate(args):
            t = tangent_of(arg, level)
            if t is not None:
                if tangents is None:
                    tangents = [None] * len(args)
                tangents[k] = t
        if tangents is None:
            continue
        # The rule's own ops run with only the levels outside this one active: a tangent is
        # linear in its level (its tangent at the same level is never needed, and asking for
        # it would recurse through the rule forever), and inner levels never see it.
        if i == 0 and _untracked(out, args, tangents, mode):
            # Nothing outside this level and nothing on the tape: the tangent needs no history,
            # so the rule runs on the arrays themselves (NumPy's speed, and the rules' in-place
            # steps apply); the values are the same.
            tangent = _apply_rule(op, [raw(t) for t in tangents], out._data,
                                  tuple(raw(a) for a in args), attrs)
        else:
            token = _MODE.set(_outer_mode(mode, i))
            try:
                tangent = _apply_rule(op, tangents, out, args, attrs)
            finally:
                _MODE.reset(token)
        if tangent is not None:
            set_tangent(out, level, _fit(tangent, out, op))
    return out


def _untracked(out: Tensor, args: tuple[Any, ...], tangents: list[Any], mode: Mode) -> bool:
    """Whether the rule's ops would record nothing: grad mode off, or no tensor among the
    output, the inputs and the tangents requires grad."""
    if not mode.grad_enabled:
        return True
    return out._node is None and not any(
        type(v) is Tensor and (v._node is not None or v._requires_grad)
        for v in (*args, *tangents))


_OUTER: dict[tuple[int, int], tuple[Mode, Mode]] = {}  # (id(mode), i) -> (mode, its outer mode)


def _outer_mode(mode: Mode, i: int) -> Mode:
    """``mode`` with only its first ``i`` forward levels (cached: made once per mode and level,
    not once per op)."""
    cached = _OUTER.get((id(mode), i))
    if cached is not None and cached[0] is mode:
        return cached[1]
    if len(_OUTER) > 256:
        _OUTER.clear()
    outer = mode.replace(forward_levels=mode.forward_levels[:i])
    _OUTER[(id(mode), i)] = (mode, outer)
    return outer


def refuse_first_order_backward(roots: Any) -> None:
    """Refuse a first-order backward pass (``create_graph=False``) from a value that carries a
    tangent: it works on bare arrays, so its gradients would silently lose their tangents."""
    levels = current_mode().forward_levels
    for tensor, _ in roots:
        if any(tangent_of(tensor, level) is not None for level in levels):
            raise GraphError(
                "backward() (or al.grad) inside a forward-mode transform (func.jvp, jacfwd, "
                "hessian, hvp, linearize), from a value that depends on the perturbed inputs: "
                "a first-order backward pass drops the tangents, so the result's derivative "
                "would be wrong. Pass create_graph=True, or take the gradient with "
                "al.func.grad / al.func.vjp, which compose with forward mode.")


def _apply_rule(op: Op, tangents: list[Any], out: Tensor, args: tuple[Any, ...],
                attrs: Any) -> Any:
    """The output tangent from the op's JVP rule (None: zero)."""
    if op.jvp is not None:
        return op.jvp(tuple(tangents), out, *args, **attrs)
    if op.jvps is None:
        raise RegistryError(
            f"op '{op.name}' has no JVP rule, so forward mode (al.func.jvp, jacfwd, hessian, "
            "hvp, linearize) cannot carry a tangent through it. Register it with "
            f"register_op('{op.name}', ..., jvp=...) (one function per input, "
            "jvp_i(t, out, *inputs, **settings) giving that input's share of the output's "
            "tangent; see docs/transforms.md), or use reverse mode (al.func.grad, jacrev).")
    if len(op.jvps) < len(args):
        raise RegistryError(f"op '{op.name}' has {len(op.jvps)} JVP functions for "
                            f"{len(args)} inputs")
    total = None
    for rule, t in zip(op.jvps, tangents):
        if t is None or rule is None:  # (no rule: the input is not differentiable)
            continue
        share = rule(t, out, *args, **attrs)
        if share is None:
            continue
        if total is None:
            total = share
        elif type(share) is not type(total):  # (an array and a Tensor)
            total = total + share
        elif _fresh(total, out, args, tangents):  # add in place into an array the rule made
            total += share
        elif _fresh(share, out, args, tangents):
            share += total
            total = share
        else:
            total = total + share
    return total


def _fresh(value: Any, out: Any, args: tuple[Any, ...], tangents: list[Any]) -> bool:
    """Whether ``value`` is an array a rule just made, of the output's shape and dtype, so the
    sum of contributions may be formed in it (an ndarray owning its memory that is none of the
    output, the inputs and the tangents; a Tensor never is)."""
    return (type(value) is np.ndarray and value.base is None and value.shape == out.shape
            and value.dtype == out.dtype and value.flags.writeable and value is not out
            and not any(value is a for a in args) and not any(value is t for t in tangents))


def _fit(tangent: Any, out: Tensor, op: Op) -> Any:
    """The tangent in the output's shape (a rule may give a broadcastable one) and dtype."""
    from autograd_lite import ops

    if type(tangent) is not Tensor:
        tangent = np.asarray(tangent)
    if tangent.shape != out.shape:
        try:
            fits = np.broadcast_shapes(tangent.shape, out.shape) == out.shape
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(
                f"the JVP rule of op '{op.name}' returned a tangent of shape {tangent.shape} "
                f"for an output of shape {out.shape}; a JVP must return the output's shape "
                "(or one that broadcasts to it).")
        tangent = ops.broadcast_to(tangent, shape=out.shape)
    if tangent.dtype != out.dtype:
        tangent = ops.astype(tangent, dtype=out.dtype)
    return tangent

