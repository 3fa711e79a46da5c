"""The tape: tensors, accumulation through reuse, deep graphs, freeing, grad mode, second order."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import threading
import weakref

import numpy as np
import pytest
from helpers import assert_matches_fd, fd_gradient, scalar_of

import autograd_lite as al

rng = np.random.default_rng(1)


# ------------------------------------------------------------------------------------ Tensor
def test_construction_dtypes() -> None:
    assert al.Tensor(3).dtype == np.float64
    assert al.Tensor([1, 2, 3]).dtype == np.float64
    assert al.Tensor([[1.5, 2.0]]).dtype == np.float64
    assert al.Tensor(np.ones(2, np.float32)).dtype == np.float32
    assert al.Tensor(np.arange(3)).dtype.kind == "i"
    assert al.Tensor(np.array([True, False])).dtype == bool


@pytest.mark.parametrize("data", [np.arange(3), np.array([True]), [1, 2]])
def test_requires_grad_only_on_floats(data) -> None:
    if isinstance(data, list):  # lists become float64, so this one is fine
        assert al.Tensor(data, requires_grad=True).requires_grad
        return
    with pytest.raises(al.DTypeError, match="requires_grad=True needs floating-point"):
        al.Tensor(data, requires_grad=True)


def test_attributes() -> None:
    x = al.Tensor(rng.standard_normal((2, 3)), requires_grad=True, name="x")
    y = (x * 2).sum(axis=1)
    assert (x.shape, x.ndim, x.size, x.name, x.is_leaf) == ((2, 3), 2, 6, "x", True)
    assert not y.is_leaf and y.requires_grad and y.grad is None
    y.name = "y"
    assert y.name == "y" and y.node.name == "y"
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and np.shares_memory(d.numpy(), y.data)
    assert al.Tensor(2.5).item() == 2.5
    assert "requires_grad=True" in repr(x) and "name='x'" in repr(x)


def test_retain_grad_and_zero_grad() -> None:
    x = al.Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.data)
    np.testing.assert_allclose(x.grad, 2 * h.data * 3)
    x.zero_grad()
    assert x.grad is None


def test_array_operands_on_either_side() -> None:
    x = al.Tensor([1.0, 2.0], requires_grad=True)
    a = np.array([3.0, 4.0])
    out = (a * x + x / a - a ** 0.5 * x + 1 - x).sum()
    assert isinstance(out, al.Tensor)
    out.backward()
    np.testing.assert_allclose(x.grad, a + 1 / a - a ** 0.5 - 1)
    y = al.Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    (np.ones((4, 3)) @ y).sum().backward()
    np.testing.assert_allclose(y.grad, np.full((3, 2), 4.0))


# ----------------------------------------------------------------------------- graph shapes
def test_reuse_accumulates() -> None:
    x = al.Tensor(3.0, requires_grad=True)
    (x * x).backward()
    assert x.grad == pytest.approx(6.0)


def test_diamond_and_fan_out() -> None:
    x = al.Tensor(rng.standard_normal(4), requires_grad=True)
    a = al.tanh(x)
    b, c = a * 2, al.exp(a)
    out = (b * c + a).sum()
    out.backward()
    t = np.tanh(x.data)
    expected = (2 * np.exp(t) + 2 * t * np.exp(t) + 1) * (1 - t ** 2)
    np.testing.assert_allclose(x.grad, expected, rtol=1e-13)


def test_leaves_accumulate_across_calls_like_pytorch() -> None:
    x = al.Tensor([1.0, -2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, [6.0, 6.0])


def test_gradients_never_alias() -> None:
    a = al.Tensor([1.0, 2.0], requires_grad=True)
    b = al.Tensor([3.0, 4.0], requires_grad=True)
    seed = np.array([1.0, 1.0])
    (a + b).backward(seed)
    a.grad[0] = 100.0
    assert b.grad[0] == 1.0 and seed[0] == 1.0


def test_chain_of_100000_ops_has_no_recursion_error() -> None:
    x = al.Tensor(np.array([0.5]), requires_grad=True)
    h = x
    for _ in range(100_000):
        h = h * 1.00001
    h.sum().backward()
    np.testing.assert_allclose(x.grad, [1.00001 ** 100_000], rtol=1e-9)


def test_wide_fan_in_of_10000() -> None:
    x = al.Tensor(np.ones(3), requires_grad=True)
    parts = [x * float(i) for i in range(10_000)]
    al.stack(parts).sum().backward()
    np.testing.assert_allclose(x.grad, np.full(3, sum(range(10_000))))


# ------------------------------------------------------------------------ freeing and errors
def test_second_backward_through_freed_graph_is_an_error() -> None:
    x = al.Tensor([1.0, 2.0], requires_grad=True)
    y = (al.exp(x) * 2).sum()
    y.backward()
    with pytest.raises(al.GraphError, match=r"second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward() -> None:
    x = al.Tensor([1.0, 2.0], requires_grad=True)
    y = (al.exp(x) * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 4 * np.exp(x.data))


def test_a_second_backward_through_cross_entropy_sees_intact_saved_values() -> None:
    """The cross-entropy's VJP builds (ŷ − y) in place from what the forward kept: a retained
    graph must give the same gradient again, (ŷ − y)/N each time."""
    logits0, labels = rng.standard_normal((6, 4)), np.array([0, 3, 1, 1, 2, 0])
    logits = al.Tensor(logits0, requires_grad=True)
    loss = al.softmax_cross_entropy(logits, labels)
    loss.backward(retain_graph=True)
    loss.backward()
    e = np.exp(logits0 - logits0.max(axis=1, keepdims=True))
    expected = (e / e.sum(axis=1, keepdims=True) - np.eye(4)[labels]) / 6
    np.testing.assert_allclose(logits.grad, 2 * expected, rtol=1e-12, atol=1e-15)


def test_backward_frees_saved_arrays_but_keeps_structure() -> None:
    x = al.Tensor(rng.standard_normal((50, 50)), requires_grad=True)
    h = al.tanh(x @ x)
    probe = weakref.ref(h.data.base)
    y = h.sum()
    y.name = "y"
    del h
    gc.collect()
    assert probe() is not None  # the tape still holds tanh's output for its VJP
    y.backward()
    gc.collect()
    assert probe() is None  # ... and frees it after backward
    assert y.node.name == "y" and y.node.freed and y.node.parents[0].shape == (50, 50)


def test_the_tape_keeps_only_what_each_vjp_reads() -> None:
    x = al.Tensor(rng.standard_normal((40, 40)), requires_grad=True)
    z = x @ x  # matmul saves its inputs, not its output
    a = z + 1.0  # add saves nothing
    h = al.tanh(a)  # tanh saves its output only
    probes = {"z": weakref.ref(z.data.base), "a": weakref.ref(a.data.base),
              "h": weakref.ref(h.data.base)}
    loss = h.sum()
    del z, a, h
    gc.collect()
    assert probes["z"]() is None and probes["a"]() is None
    assert probes["h"]() is not None
    loss.backward()
    t = np.tanh(x.data @ x.data + 1.0)
    expected = (1 - t * t) @ x.data.T + x.data.T @ (1 - t * t)
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


@pytest.mark.parametrize("saves", ["both", "inputs", "output", "none"])
def test_a_user_op_gets_none_for_what_it_does_not_save(saves: str) -> None:
    seen = {}

    def vjp(g, out, x):
        seen["out"], seen["x"] = out is not None, x is not None
        return (g * 3.0,)

    triple = al.register_op("triple_under_test", lambda x: 3.0 * x, vjp, saves=saves)
    x = al.Tensor([1.0, 2.0], requires_grad=True)
    triple(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    assert (seen["x"], seen["out"]) == {"both": (True, True), "inputs": (True, False),
                                        "output": (False, True), "none": (False, False)}[saves]
    with pytest.raises(al.RegistryError, match="saves must be one of"):
        al.register_op("triple_under_test", lambda x: 3.0 * x, vjp, saves="input")


@pytest.mark.parametrize("joint", [False, True])
@pytest.mark.parametrize("with_setting", [False, True])
@pytest.mark.parametrize("arity", [1, 2, 3, 4])
def test_user_ops_of_every_arity_get_their_gradients(arity: int, with_setting: bool,
                                                     joint: bool) -> None:
    """f(x_1, ..., x_n) = c · x_1 ∘ ... ∘ x_n, through each way the engine calls a VJP (one
    function per input or one for all; one, two or more inputs; with or without settings),
    against central differences."""
    def forward(*xs, scale=2.0):
        return scale * np.prod(np.broadcast_arrays(*xs), axis=0)

    def grad_of(position):
        def vjp(g, out, *xs, **settings):
            others = [x for k, x in enumerate(xs) if k != position]
            return g * forward(*others, **settings) if others else g * settings.get("scale", 2.0)
        return vjp

    if joint:
        vjp = lambda g, out, *xs, **settings: tuple(
            grad_of(k)(g, out, *xs, **settings) for k in range(arity))
    else:
        vjp = [grad_of(k) for k in range(arity)]
    op = al.register_op(f"product_{arity}_under_test", forward, vjp)
    settings = {"scale": -1.5} if with_setting else {}
    shapes = [(3,), (2, 3), (1, 3), (2, 1)][:arity]
    arrays = [rng.standard_normal(shape) for shape in shapes]
    assert_matches_fd(lambda *xs: op(*xs, **settings), arrays)


def test_vjps_run_with_grad_mode_off_unless_create_graph() -> None:
    """The backward pass sets grad mode (off, or on under create_graph) and keeps the other
    settings; the mode it sets is made once per mode, so the second pass checks the reuse."""
    seen = []

    def vjp(g, out, x):
        seen.append((al.is_grad_enabled(), al.modes.current_mode().anomaly))
        return (g * 2.0,)

    double = al.register_op("double_under_test", lambda x: 2.0 * x, vjp)
    x = al.Tensor([1.0], requires_grad=True)
    for _ in range(2):
        double(x).sum().backward()
    double(x).sum().backward(create_graph=True)
    with al.detect_anomaly():
        double(x).sum().backward()
    with al.no_grad():
        assert not al.is_grad_enabled()
    assert seen == [(False, False), (False, False), (True, False), (False, True)]
    assert al.is_grad_enabled()
    mode = al.modes.current_mode()
    assert mode.with_grad(True) is mode and mode.with_grad(False).with_grad(True) is mode


def test_non_scalar_backward_needs_a_seed() -> None:
    x = al.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(al.GraphError, match=r"shape \(2,\) needs a seed"):
        (x * 2).backward()
    with pytest.raises(al.ShapeError, match=r"seed gradient has shape \(3,\)"):
        (x * 2).backward(np.ones(3))


def test_differentiating_detached_or_no_grad_output_is_an_error() -> None:
    x = al.Tensor([1.0, 2.0], requires_grad=True)
    with al.no_grad():
        y = (x * 2).sum()
    assert not y.requires_grad
    with pytest.raises(al.GraphError, match="no_grad"):
        y.backward()
    with pytest.raises(al.GraphError, match="detach"):
        (x * 2).sum().detach().backward()


def test_no_grad_as_decorator_and_enable_grad_inside() -> None:
    x = al.Tensor([1.0], requires_grad=True)

    @al.no_grad()
    def f(t):
        with al.enable_grad():
            inner = t * 2
        return t * 3, inner

    outer, inner = f(x)
    assert not outer.requires_grad and inner.requires_grad and al.is_grad_enabled()


def test_grad_mode_is_per_thread() -> None:
    seen = {}

    def worker() -> None:
        seen["enabled"] = al.is_grad_enabled()

    with al.no_grad():
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    assert seen["enabled"] is True


def test_two_threads_differentiate_separate_graphs_at_once() -> None:
    results: dict[int, np.ndarray] = {}
    barrier = threading.Barrier(2)

    def worker(k: int) -> None:
        x = al.Tensor(np.full(3, float(k + 1)), requires_grad=True)
        barrier.wait()
        for _ in range(200):
            with al.no_grad():
                _ = x * 5  # the other thread's no_grad must not leak here
            x.zero_grad()
            (x * x * k).sum().backward()
        results[k] = x.grad

    threads = [threading.Thread(target=worker, args=(k,)) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in (1, 2):
        np.testing.assert_allclose(results[k], 2 * (k + 1) * k * np.ones(3))


def test_grad_mode_is_per_asyncio_task() -> None:
    """A no_grad block held open across an await does not reach another task."""
    recorded = {}

    async def quiet(ready: asyncio.Event, done: asyncio.Event) -> None:
        with al.no_grad():
            ready.set()
            await done.wait()
            recorded["quiet"] = (al.Tensor([1.0], requires_grad=True) * 2).requires_grad

    async def busy(ready: asyncio.Event, done: asyncio.Event) -> None:
        await ready.wait()
        recorded["busy"] = (al.Tensor([1.0], requires_grad=True) * 2).requires_grad
        done.set()

    async def main() -> None:
        ready, done = asyncio.Event(), asyncio.Event()
        await asyncio.gather(quiet(ready, done), busy(ready, done))

    asyncio.run(main())
    assert recorded == {"quiet": False, "busy": True}


def test_modes_leave_the_context_empty_and_survive_errors() -> None:
    """Every switch is undone on exit, by an exception too, and backward() restores the mode;
    outside all blocks the mode variable is unset (NumPy's own context lookups stay fast)."""
    x = al.Tensor([0.5, 2.0], requires_grad=True)
    with pytest.raises(ZeroDivisionError), al.no_grad(), al.detect_anomaly():
        raise ZeroDivisionError
    (x * x).sum().backward()
    with al.retain_grads():
        al.tanh(x).sum().backward(create_graph=True)
    assert al.is_grad_enabled()
    assert not any(var.name == "autograd_lite_mode" for var in contextvars.copy_context())


def test_a_block_left_in_another_context_restores_the_mode_there() -> None:
    """A generator that enters no_grad() in one context and is resumed (and finishes) in
    another must not fail, and leaves grad mode as it was before the block."""
    def paused():
        with al.no_grad():
            yield al.is_grad_enabled()

    gen = paused()
    other = contextvars.copy_context()
    assert other.run(next, gen) is False
    assert next(gen, "done") == "done"  # the block exits here, outside `other`
    assert al.is_grad_enabled()
    assert (al.Tensor([1.0], requires_grad=True) * 2).requires_grad


def test_grad_function_for_intermediates_and_leaves() -> None:
    x = al.Tensor(rng.standard_normal(3), requires_grad=True)
    h = al.sigmoid(x)
    loss = (h * h).sum()
    dh, dx = al.grad(loss, [h, x])
    np.testing.assert_allclose(dh, 2 * h.data)
    np.testing.assert_allclose(dx, 2 * h.data * h.data * (1 - h.data))
    assert x.grad is None  # grad() does not accumulate


# ------------------------------------------------------------------------------ second order
def test_second_derivative_of_sigmoid() -> None:
    z = rng.standard_normal(5)
    x = al.Tensor(z, requires_grad=True)
    (g,) = al.grad(al.sigmoid(x).sum(), x, create_graph=True)
    assert isinstance(g, al.Tensor) and g.requires_grad
    g.sum().backward()
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(x.grad, s * (1 - s) * (1 - 2 * s), rtol=1e-12)


def test_second_derivative_of_cube_through_backward() -> None:
    x = al.Tensor([2.0, -1.5], requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    first = x.grad
    assert isinstance(first, al.Tensor)
    np.testing.assert_allclose(first.data, 3 * x.data ** 2)
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(x.grad, 6 * x.data)


def test_softmax_cross_entropy_hessian_vector_product() -> None:
    theta = rng.standard_normal(6)
    v = rng.standard_normal(6)
    x = al.Tensor(theta, requires_grad=True)
    (g,) = al.grad(al.softmax_cross_entropy(x, np.array(2)), x, create_graph=True)
    (hv,) = al.grad((g * v).sum(), x)
    p = np.exp(theta - theta.max())
    p /= p.sum()
    np.testing.assert_allclose(hv, (np.diag(p) - np.outer(p, p)) @ v, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["log_softmax", "softmax", "tanh", "matmul", "max", "getitem"])
def test_second_order_against_finite_differences_of_the_gradient(name: str) -> None:
    fns = {"log_softmax": lambda x: (al.log_softmax(x) * np.arange(4.0)).sum(),
           "softmax": lambda x: (al.softmax(x) ** 2).sum(),
           "tanh": lambda x: (al.tanh(x) ** 3).sum(),
           "matmul": lambda x: ((x @ x.T) ** 2).sum(),
           "max": lambda x: (x.max(axis=1) ** 3).sum(),
           "getitem": lambda x: (x[np.array([0, 0, 1])] ** 3).sum()}
    f = fns[name]
    x0 = rng.permutation(8).reshape(2, 4) * 0.3 + 0.1
    v = rng.standard_normal(x0.shape)

    def directional(x_arr: np.ndarray) -> float:
        x = al.Tensor(x_arr, requires_grad=True)
        (g,) = al.grad(f(x), x)
        return float(np.sum(g * v))

    x = al.Tensor(x0, requires_grad=True)
    (g,) = al.grad(f(x), x, create_graph=True)
    (hv,) = al.grad((g * v).sum(), x)
    numeric = fd_gradient(directional, [x0], 0)
    np.testing.assert_allclose(hv, numeric, rtol=1e-6, atol=1e-6)


def test_inputs_are_not_modified_by_numeric_checks() -> None:
    x = rng.standard_normal(4)
    copy = x.copy()
    fd_gradient(scalar_of(lambda t: (t * t).sum()), [x], 0)
    al.numerical_grad(lambda t: (t * t).sum(), x)
    np.testing.assert_array_equal(x, copy)


@pytest.mark.parametrize("labels", [np.array([2, 0, 1]), np.full((3, 4), 0.25)])
def test_cross_entropy_backward_twice_through_a_retained_graph(labels):
    """The first backward pass forms the softmax in the forward's buffer of exponentials; a
    second one through the retained graph recomputes it, and both give softmax − y (per row)."""
    logits = np.random.default_rng(6).standard_normal((3, 4))
    x = al.Tensor(logits, requires_grad=True)
    loss = al.softmax_cross_entropy(x, labels, reduction="sum")
    (first,) = al.grad(loss, x, retain_graph=True)
    (second,) = al.grad(loss, x)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.eye(4)[labels] if labels.ndim == 1 else labels
    np.testing.assert_allclose(first, probs - y, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(second, probs - y, rtol=1e-13, atol=1e-15)
