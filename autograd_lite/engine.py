"""The backward pass: sort the recorded graph, then apply each node's VJP in reverse order.

The sort is iterative (a graph of any depth works), gradients reaching a node through several
paths are summed before its VJP runs, and each gradient is fitted to its input's shape and dtype
by one shared helper (:func:`fit_gradient`, which undoes broadcasting).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from autograd_lite.errors import GraphError, InplaceModificationError, ShapeError
from autograd_lite.modes import set_grad_enabled, state
from autograd_lite.registry import check_finite
from autograd_lite.tensor import MUTATION_CLOCK, Node, Tensor, _new_tensor, to_array


def topological_order(roots: Iterable[Node]) -> list[Node]:
    """Every node reachable from ``roots``, each before all of its parents (iterative DFS)."""
    postorder: list[Node] = []
    visited: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False) for root in roots]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            postorder.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node.parents:
            if type(parent) is Node and id(parent) not in visited:
                stack.append((parent, False))
    postorder.reverse()
    return postorder


def unbroadcast(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``.

    If ``x`` of shape ``shape`` was broadcast to ``grad.shape`` in the forward pass, each of its
    elements was used once per copy, so its gradient is the sum over the copies.
    """
    from autograd_lite import ops

    lead = grad.ndim - len(shape)
    if lead < 0 or any(n not in (1, m) for n, m in zip(shape, grad.shape[lead:])):
        raise ShapeError(f"a gradient of shape {grad.shape} cannot belong to an input of shape "
                         f"{shape}: the input does not broadcast to it")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
    )
    if axes:
        grad = ops.sum(grad, axis=axes)
    return ops.reshape(grad, shape=shape) if grad.shape != shape else grad


def fit_gradient(grad: Any, shape: tuple[int, ...], dtype: np.dtype, node: Node,
                 position: int) -> Any:
    """Give an input's gradient that input's shape (undoing broadcasting) and dtype."""
    if grad.shape != shape:
        try:
            grad = unbroadcast(grad, shape)
        except ShapeError as exc:
            raise ShapeError(f"the VJP of {node.describe()} for input {position}: {exc}. "
                             "A VJP must return each input's gradient in that input's shape "
                             "(or in the broadcast shape).") from None
    if grad.dtype != dtype:
        from autograd_lite import ops

        grad = ops.astype(grad, dtype=dtype)
    return grad


def _owned(grad: np.ndarray, stored: set[int]) -> np.ndarray:
    """``grad`` itself if nothing else can see it, else a copy (gradients never alias)."""
    if (type(grad) is not np.ndarray or grad.base is not None or not grad.flags.writeable
            or id(grad) in stored):
        grad = np.array(grad)
    stored.add(id(grad))
    return grad


def _add(total: Any, grad: Any) -> Any:
    return grad if total is None else total + grad


def _check_not_mutated(node: Node) -> None:
    for position, parent in enumerate(node.parents):
        kind = type(parent)
        if kind is Node:
            changed = parent.mutated_at > node.epoch
        elif kind is Tensor:
            changed = parent._mutated_at > node.epoch
        else:
            continue
        if changed:
            what = parent.describe() if kind is Node else (
                f"tensor '{parent.name}'" if parent.name else f"tensor of shape {parent.shape}")
            raise InplaceModificationError(
                f"input {position} of {node.describe()} ({what}) was modified in place after "
                "it was used, so the values saved for the backward pass are gone. Update "
                "parameters after backward() (W.data -= lr * W.grad), or assign a new array "
                "(t.data = t.data - step) instead of changing it in place."
            )


def _run(roots: Sequence[tuple[Tensor, Any]], retain_graph: bool, create_graph: bool,
         capture: dict[Any, Any] | None) -> None:
    """Backpropagate the seeds of ``roots``. With ``capture`` (keys: nodes and leaf tensors),
    store the gradients reaching those keys there instead of accumulating into ``.grad``."""
    pending: dict[Any, Any] = {}
    starts: list[Node] = []
    for tensor, seed in roots:
        target = tensor._node if tensor._node is not None else tensor
        pending[target] = _add(pending.get(target), seed)
        if type(target) is Node:
            starts.append(target)
    stored: set[int] = {id(seed) for _, seed in roots}
    with set_grad_enabled(create_graph):
        for node in topological_order(starts):
            grad = pending.pop(node, None)
            if grad is None:
                continue
            if capture is not None:
                if node in capture:
                    capture[node] = grad
            elif node.retains_grad:
                own = grad if create_graph else _owned(grad, stored)
                node.grad = _add(node.grad, own)
            if node.arrays is None:
                raise GraphError(
                    f"backward through {node.describe()} a second time: its saved arrays were "
                    "freed by the first backward(). Pass retain_graph=True to the first call "
                    "if you need to backpropagate through the same graph again."
                )
            if MUTATION_CLOCK[0] > node.epoch:  # something changed in place since the forward
                _check_not_mutated(node)
            parents = node.parents
            wanted = [type(p) is Node or (type(p) is Tensor and p._requires_grad)
                      for p in parents]
            if create_graph:
                args = tuple(_new_tensor(a, p) if type(p) is Node else p if type(p) is Tensor
                             else a for a, p in zip(node.arrays, parents))
                out = _new_tensor(node.out, node)
                residual = None
            else:
                args, out, residual = node.arrays, node.out, node.residual
            grads = node.op.input_gradients(grad, out, args, node.attrs, wanted, residual)
            for position, (parent, g) in enumerate(zip(parents, grads)):
                if g is None:
                    continue
                if not create_graph and type(g) is Tensor:
                    g = g._data
                g = fit_gradient(g, parent.shape, parent.dtype, node, position)
                if state.anomaly:
                    check_finite(g, f"backward of {node.describe()} (gradient of input "
                                    f"{position})")
                pending[parent] = _add(pending.get(parent), g)
            if not retain_graph:
                node.free()
    for leaf, grad in pending.items():
        if capture is not None:
            if leaf in capture:
                capture[leaf] = grad
            continue
        if not create_graph and type(grad) is not Tensor:
            grad = _owned(grad, stored)
        leaf._grad = _add(leaf._grad, grad)


def _seed(tensor: Tensor, grad: Any, create_graph: bool) -> Any:
    if grad is None:
        if tensor.size != 1:
            raise GraphError(
                f"backward() on a tensor of shape {tensor.shape} needs a seed gradient of that "
                "shape: grad can only be implied (as 1) for a single-element output. Reduce it "
                "first (loss = out.sum() or .mean()) or pass grad=np.ones_like(out.data)."
            )
        seed: Any = np.ones(tensor.shape, dtype=tensor.dtype)
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
