"""The backward pass: apply each recorded node's VJP, newest node first.

Nodes are taken from a heap in decreasing creation order (``Node.seq``), which is a topological
order found while walking (no recursion: a graph of any depth works). Gradients reaching a node
through several paths are summed before its VJP runs, and each gradient is fitted to its input's
shape and dtype by one shared helper (:func:`fit_gradient`, which undoes broadcasting).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from heapq import heappop, heappush
from typing import Any

import numpy as np

from autograd_lite import forward_mode
from autograd_lite.errors import GraphError, InplaceModificationError, RegistryError, ShapeError
from autograd_lite.modes import current_mode, enter_grad_mode, restore_mode
from autograd_lite.registry import check_finite
from autograd_lite.tensor import LAST_REBIND, Node, Tensor, _new_tensor, to_array

# Held while a gradient is added into a leaf's (or a retained intermediate's) .grad: each
# accumulation is atomic, as in PyTorch, so threads running backward() into shared leaves at
# the same time give the exact sum.
ACCUMULATION = threading.Lock()


def unbroadcast(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``.

    If ``x`` of shape ``shape`` was broadcast to ``grad.shape`` in the forward pass, each of its
    elements was used once per copy, so its gradient is the sum over the copies.
    """
    lead = grad.ndim - len(shape)
    if lead >= 0 and grad.shape[lead:] == shape:  # only leading axes added (a bias over rows)
        return _sum(grad, tuple(range(lead))) if lead else grad
    return _sum(grad, broadcast_axes(grad.shape, shape)).reshape(shape)


def broadcast_axes(grad_shape: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes of a gradient of ``grad_shape`` that broadcasting added or stretched from
    ``shape``: summing over them gives ``shape``. A ShapeError if ``shape`` does not broadcast
    to ``grad_shape``."""
    lead = len(grad_shape) - len(shape)
    if lead < 0:
        raise ShapeError(f"a gradient of shape {grad_shape} cannot belong to an input of shape "
                         f"{shape}: it has fewer axes")
    stretched = []
    for i, (n, m) in enumerate(zip(shape, grad_shape[lead:])):
        if n != m:
            if n != 1:
                raise ShapeError(f"a gradient of shape {grad_shape} cannot belong to an input "
                                 f"of shape {shape}: the input does not broadcast to it")
            stretched.append(lead + i)
    return (*range(lead), *stretched)


def misfit(what: str, position: int, exc: ShapeError) -> ShapeError:
    """The error for a VJP whose gradient cannot be summed back to its input's shape."""
    return ShapeError(f"the VJP of {what} for input {position}: {exc}. A VJP must return each "
                      "input's gradient in that input's shape (or in the broadcast shape).")


def _sum(grad: Any, axes: tuple[int, ...]) -> Any:
    """``grad.sum(axis=axes)``; for an ndarray, np.add.reduce skips NumPy's Python wrapper."""
    return np.add.reduce(grad, axis=axes) if type(grad) is np.ndarray else grad.sum(axis=axes)


def fit_gradient(grad: Any, shape: tuple[int, ...], dtype: np.dtype, node: Node,
                 position: int) -> Any:
    """Give an input's gradient that input's shape (undoing broadcasting) and dtype."""
    if grad.shape != shape:
        try:
            grad = unbroadcast(grad, shape)
        except ShapeError as exc:
            raise misfit(node.describe(), position, exc) from None
    if grad.dtype is not dtype and grad.dtype != dtype:
        from autograd_lite import ops

        grad = ops.astype(grad, dtype=dtype)
    return grad


def _owned(grad: np.ndarray, stored: set[int]) -> np.ndarray:
    """``grad`` itself if nothing else can see it, else a copy (gradients never alias)."""
    # A fresh result owns its memory (base is None); views, and arrays already handed to
    # another leaf or retained, are copied.
    if type(grad) is not np.ndarray or grad.base is not None or id(grad) in stored:
        grad = np.array(grad)
    stored.add(id(grad))
    return grad


def _add(total: Any, grad: Any) -> Any:
    return grad if total is None else total + grad


def _check_not_rebound(node: Node) -> None:
    """Refuse to backpropagate from ``node`` into a leaf whose ``.data`` was rebound to an array
    of another shape or dtype after the node was recorded: its gradient would be fitted to the
    new array and be wrong. (In-place writes need no check: the arrays a graph keeps are
    private, see ``Tensor.data``.)"""
    for position, parent in enumerate(node.parents):
        if type(parent) is Tensor and parent._rebound_at > node.seq:
            what = f"tensor '{parent.name}'" if parent.name else "a leaf tensor"
            raise InplaceModificationError(
                f"input {position} of {node.describe()} ({what}) was rebound to an array of "
                f"shape {parent.shape} and dtype {parent.dtype} after the graph was recorded, "
                "so its gradient cannot fit it. Call backward() before changing a parameter's "
                "shape or dtype, or build the graph again from the new values.")


def _graph_inputs(node: Node) -> tuple[Any, ...]:
    """A node's saved inputs as tensors carrying their history, for ``create_graph=True``
    (None where the op saved nothing, constants as they are)."""
    return tuple(None if array is None else _new_tensor(array, parent) if type(parent) is Node
                 else parent if type(parent) is Tensor else array
                 for array, parent in zip(node.arrays, node.parents))


def _run(roots: Sequence[tuple[Tensor, Any]], retain_graph: bool, create_graph: bool,
         capture: dict[Any, Any] | None) -> None:
    """Backpropagate the seeds of ``roots``. With ``capture`` (keys: nodes and leaf tensors),
    store the gradients reaching those keys there instead of accumulating into ``.grad``.

    Nodes are processed in decreasing creation order (``Node.seq``), from a heap of the nodes
    a gradient has reached: every consumer of a node was created after it, so by the time a
    node is popped all of its gradient has arrived. This sorts the graph while walking it,
    iteratively, and visits only what the roots depend on.
    """
    if not create_graph and current_mode().forward_levels:  # forward mode
        forward_mode.refuse_first_order_backward(roots)
    pending: dict[Node, Any] = {}  # the gradient summed so far for each node reached
    leaves: dict[Tensor, Any] = {}
    heap: list[tuple[int, Node]] = []
    inputs = [(tensor._node or tensor, seed) for tensor, seed in roots]  # (no node: a leaf)
    stored: set[int] = {id(seed) for _, seed in roots}
    token = enter_grad_mode(create_graph)  # (set_grad_enabled's work, without its calls)
    try:
        anomaly = current_mode().anomaly
        while True:
            for target, g in inputs:  # send each gradient to the node or leaf it belongs to
                if type(target) is not Node:
                    leaves[target] = _add(leaves.get(target), g)
                elif target in pending:
                    pending[target] = pending[target] + g
                else:
                    pending[target] = g
                    heappush(heap, (-target.seq, target))
            if not heap:
                break
            node = heappop(heap)[1]
            grad = pending.pop(node)
            if capture is not None:
                if node in capture:
                    capture[node] = grad
            elif node.retains_grad:
                kept = grad if create_graph else _owned(grad, stored)
                with ACCUMULATION:
                    node.grad = _add(node.grad, kept)
            inputs = _input_gradients(node, grad, create_graph, anomaly)
            if not retain_graph:  # free what the VJP read; the structure stays for drawing
                node.arrays = node.out = node.residual = None
    finally:
        restore_mode(token)
    if capture is not None:
        for leaf, grad in leaves.items():
            if leaf in capture:
                capture[leaf] = grad
        return
    with ACCUMULATION:  # read, add, store: atomic, so concurrent passes lose nothing
        for leaf, grad in leaves.items():
            if not create_graph and type(grad) is not Tensor:
                grad = _owned(grad, stored)
            leaf._grad = grad if leaf._grad is None else leaf._grad + grad


def _input_gradients(node: Node, grad: Any, create_graph: bool, anomaly: bool
                     ) -> list[tuple[Any, Any]]:
    """``node``'s VJPs applied to ``grad``: (parent, gradient) for each input that takes a
    gradient, each gradient fitted to its input's shape and dtype."""
    if node.arrays is None:
        raise GraphError(
            f"backward through {node.describe()} a second time: its saved arrays were "
            "freed by the first backward(). Pass retain_graph=True to the first call "
            "if you need to backpropagate through the same graph again.")
    if LAST_REBIND[0] > node.seq:  # a leaf's .data changed shape since the forward
        _check_not_rebound(node)
    op, attrs = node.op, node.attrs
    if create_graph:
        args = _graph_inputs(node)
        out = None if node.out is None else _new_tensor(node.out, node)
    else:
        args, out = node.arrays, node.out
    if op.residual:
        attrs = {**attrs, "residual": None if create_graph else node.residual}
    joint = None if op.vjps is not None else _joint_gradients(node, grad, out, args, attrs)
    results = []
    for position, parent in enumerate(node.parents):
        kind = type(parent)
        if kind is not Node and (kind is not Tensor or not parent._requires_grad):
            continue  # a constant
        if joint is not None:
            g = joint[position]
        else:
            try:
                vjp = op.vjps[position]  # type: ignore[index]
            except IndexError:
                raise RegistryError(f"op '{op.name}' has {len(op.vjps)} VJP functions for "  # type: ignore[arg-type]
                                    f"{len(node.parents)} inputs") from None
            if vjp is None:
                continue
            g = vjp(grad, out, *args, **attrs) if attrs else vjp(grad, out, *args)
        if g is None:
            continue
        if type(g) is Tensor and not create_graph:
            g = g._data
        target = parent if kind is Node else parent._data
        # (a dtype is almost always the very same object; fit_gradient compares fully)
        if g.shape != target.shape or g.dtype is not target.dtype:
            g = fit_gradient(g, target.shape, target.dtype, node, position)
        if anomaly:
            check_finite(g, f"backward of {node.describe()} (gradient of input {position})")
        results.append((parent, g))
    return results


def _joint_gradients(node: Node, grad: Any, out: Any, args: tuple[Any, ...],
                     attrs: Any) -> Sequence[Any]:
    """Call an op's single VJP function and check it returned one gradient per input."""
    grads = node.op.vjp(grad, out, *args, **attrs)  # type: ignore[misc]
    if not isinstance(grads, (tuple, list)) or len(grads) != len(args):
        got = len(grads) if isinstance(grads, (tuple, list)) else type(grads).__name__
        raise RegistryError(
            f"the VJP of op '{node.op.name}' must return a tuple with one gradient per input "
            f"({len(args)}), got {got}. Write `return (grad_x,)` for a single input."
        )
    return grads


def _seed(tensor: Tensor, grad: Any, create_graph: bool) -> Any:
    if grad is None:
        if tensor.size != 1:
            raise GraphError(
                f"backward() on a tensor of shape {tensor.shape} needs a seed gradient of that "
                "shape: grad can only be implied (as 1) for a single-element output. Reduce it "
                "first (loss = out.sum() or .mean()) or pass grad=np.ones_like(out.data)."
            )
        seed: Any = np.array(1, dtype=tensor.dtype).reshape(tensor.shape)
    else:
        seed = grad if isinstance(grad, Tensor) else to_array(grad, "backward(grad=...)")
        if seed.shape != tensor.shape:
            raise ShapeError(
                f"backward(grad=...): the seed gradient has shape {seed.shape} but the tensor "
                f"has shape {tensor.shape}; they must match."
            )
        if seed.dtype != tensor.dtype:
            seed = seed.astype(tensor.dtype) if not isinstance(seed, Tensor) else seed
    if create_graph and not isinstance(seed, Tensor):
        seed = _new_tensor(seed, None)
    if not create_graph and isinstance(seed, Tensor):
        seed = seed._data
    return seed


def _require_history(tensor: Tensor, what: str) -> None:
    if not isinstance(tensor, Tensor):
        raise GraphError(f"{what}: expected a Tensor, got {type(tensor).__name__}")
    if not tensor.requires_grad:
        raise GraphError(
            f"{what}: this tensor (shape {tensor.shape}) does not require grad and has no "
            "recorded history, so there is nothing to differentiate. It was created without "
            "requires_grad=True, computed under no_grad(), or taken from .detach()."
        )


def backward(tensor: Tensor, grad: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """Accumulate the gradient of ``tensor`` into every leaf's ``.grad``; see Tensor.backward."""
    _require_history(tensor, "backward()")
    retain = create_graph if retain_graph is None else retain_graph
    _run([(tensor, _seed(tensor, grad, create_graph))], retain, create_graph, capture=None)


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple[Any, ...]:
    """The gradients of ``outputs`` with respect to ``inputs`` (leaves or intermediates),
    returned as a tuple and not accumulated into ``.grad`` (``torch.autograd.grad``)."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    roots = []
    for out, seed in zip(outputs, grad_outputs):
        _require_history(out, "grad()")
        roots.append((out, _seed(out, seed, create_graph)))
    for position, tensor in enumerate(inputs):
        _require_history(tensor, f"grad(): input {position}")
    keys = [t._node if t._node is not None else t for t in inputs]
    capture: dict[Any, Any] = dict.fromkeys(keys)
    retain = create_graph if retain_graph is None else retain_graph
    _run(roots, retain, create_graph, capture=capture)
    results = []
    for position, key in enumerate(keys):
        value = capture[key]
        if value is None and not allow_unused:
            raise GraphError(f"grad(): input {position} was not used to compute the outputs; "
                             "pass allow_unused=True to get None for it")
        if value is not None and not create_graph and not isinstance(value, Tensor):
            value = np.array(value)
        results.append(value)
    return tuple(results)
