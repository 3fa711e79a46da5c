"""Nothing leaks: the tape frees its arrays after backward() or when the output is dropped,
with reference counting alone (no cycles for the collector), and training does not grow."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import autograd_lite as al


@pytest.fixture
def no_cyclic_gc():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def tiny_net_step(params, X, labels, lr=0.1):
    W1, b1, W2, b2 = params
    loss = al.softmax_cross_entropy(al.sigmoid(X @ W1 + b1) @ W2 + b2, labels)
    for p in params:
        p.zero_grad()
    loss.backward()
    for p in params:
        p.data -= lr * p.grad
    return loss.item()


def tiny_net(seed=0):
    rng = np.random.default_rng(seed)
    params = [al.Tensor(rng.standard_normal(s) * 0.5, requires_grad=True)
              for s in [(10, 5), (5,), (5, 10), (10,)]]
    return params, rng.standard_normal((20, 10)), rng.integers(0, 10, 20)


def test_backward_frees_intermediates_by_refcount_alone(no_cyclic_gc) -> None:
    x = al.Tensor(np.ones((30, 30)), requires_grad=True)
    h = al.tanh(x @ x)
    probes = [weakref.ref(h.data.base)]  # (.data is a read-only view)
    h2 = al.exp(h)
    probes.append(weakref.ref(h2.data.base))
    loss = h2.sum()
    del h, h2
    assert all(p() is not None for p in probes)
    loss.backward()
    assert all(p() is None for p in probes)
    assert loss.node is not None  # the structure stays for drawing


def test_dropping_the_output_frees_everything(no_cyclic_gc) -> None:
    x = al.Tensor(np.ones((30, 30)), requires_grad=True)
    loss = al.sigmoid(x @ x).sum()
    node = weakref.ref(loss.node)
    sigmoid = loss.node.parents[0]
    saved = [a for a in (*sigmoid.arrays, sigmoid.out) if a is not None]
    assert saved, "sigmoid saves its output for the VJP"
    arrays = [weakref.ref(a) for a in saved]
    del loss, sigmoid, saved
    assert node() is None and all(a() is None or a() is x.data for a in arrays)


def test_create_graph_leaves_no_cycles(no_cyclic_gc) -> None:
    x = al.Tensor(np.ones(5), requires_grad=True)
    y = (al.sigmoid(x) ** 2).sum()
    (g,) = al.grad(y, x, create_graph=True)
    probe = weakref.ref(g.node)
    del y, g
    assert probe() is None


def test_ten_thousand_training_steps_do_not_grow_memory() -> None:
    params, X, labels = tiny_net()
    for _ in range(500):
        tiny_net_step(params, X, labels)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        losses = [tiny_net_step(params, X, labels) for _ in range(10_000)]
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # the list of 10,000 floats costs ~320 KB; anything kept per step would cost far more
    growth = after - before - 10_000 * 32 - 100_000
    assert growth < 50_000, f"memory grew by {after - before} bytes over 10,000 steps"
    assert losses[-1] < losses[0]
