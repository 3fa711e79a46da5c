"""Issue 17, the engine: nothing gives a silent wrong result. Each test asks for the right answer
(checked against a closed form or central differences) or a clear error, one per item: NumPy
conversion, op signatures and help, axes, every write path, threads, the cross-entropy's second
order in its target, 0**y, complex results, pickling and copying."""

from __future__ import annotations

import copy
import inspect
import pickle
import pydoc
import sys
import threading
import weakref

import numpy as np
import pytest
from helpers import fd_gradient

import autograd_lite as al
from autograd_lite.errors import ArrayConversionError, AxisError, SignatureError

rng = np.random.default_rng(17)


def leaf(*shape: int) -> al.Tensor:
    return al.Tensor(rng.standard_normal(shape), requires_grad=True)


# ------------------------------------------------------------------------- NumPy conversion
@pytest.mark.parametrize("convert", [np.asarray, np.array, lambda t: np.array([t, t]),
                                     lambda t: t.numpy(), lambda t: np.asarray(t, np.float32)])
def test_a_tensor_in_a_graph_does_not_become_an_array(convert) -> None:
    x = leaf(3)
    for tensor in (x, al.exp(x)):
        with pytest.raises(ArrayConversionError, match=r"t\.data.*detach\(\)"):
            convert(tensor)


def test_constant_tensors_convert_and_graph_tensors_read_through_data() -> None:
    values = rng.standard_normal(3)
    c = al.Tensor(values)
    np.testing.assert_array_equal(np.asarray(c), values)
    np.testing.assert_array_equal(c.numpy(), values)
    x = al.Tensor(values, requires_grad=True)
    y = al.exp(x)
    np.testing.assert_array_equal(y.data, np.exp(values))
    np.testing.assert_array_equal(y.detach().numpy(), np.exp(values))
    np.testing.assert_array_equal(x.detach().numpy(), values)


@pytest.mark.parametrize("numpy_call", [
    lambda x: np.dot(x, x), lambda x: np.prod(np.stack([x, x]), axis=0).sum(),
    lambda x: np.linalg.norm(x) ** 2,
    lambda x: np.where(np.ones(3, bool), x, 0.0) @ x, lambda x: np.sum(x * x),
])
def test_numpy_functions_on_a_graph_tensor_record_or_refuse(numpy_call) -> None:
    """(x·x).sum() + f(x) with f(x) = x·x: the gradient is 4x, or the NumPy call is refused.
    Never 2x, the result of a silently constant f(x)."""
    values = rng.standard_normal(3)
    x = al.Tensor(values, requires_grad=True)
    try:
        loss = (x * x).sum() + numpy_call(x)
    except (al.AutogradLiteError, TypeError) as refusal:  # (TypeError: NumPy's, for ufuncs)
        assert "Tensor" in str(refusal) or isinstance(refusal, al.AutogradLiteError)
        return
    loss.backward()
    np.testing.assert_allclose(x.grad, 4 * values)


# ------------------------------------------------------------------- signatures and help
def test_help_shows_the_signature_and_the_math() -> None:
    text = pydoc.render_doc(al.exp, renderer=pydoc.plaintext)
    assert "exp(x, /)" in text and "e^x" in text and "Gradient" in text
    text = pydoc.render_doc(al.sum, renderer=pydoc.plaintext)
    assert "sum(x, axis=None, keepdims=False)" in text and "Settings" in text
    assert al.get_op("exp") is al.exp and al.exp.__name__ == "exp"
    assert str(inspect.signature(al.stack)) == "(arrays, axis=0)"
    assert "stack(arrays, axis=0)" in pydoc.render_doc(al.stack, renderer=pydoc.plaintext)
    assert "registered primitive" in al.Op.__doc__


@pytest.mark.parametrize("container", [list, tuple])
def test_stack_and_concatenate_take_a_sequence_and_record_one_node(container) -> None:
    a, b = leaf(2, 3), leaf(2, 3)
    w = rng.standard_normal((2, 2, 3))
    stacked = al.stack(container([a, b]), axis=1)
    assert stacked.shape == (2, 2, 3) and stacked.node.parents == (a, b)
    (stacked * w).sum().backward()
    np.testing.assert_array_equal(a.grad, w[:, 0])
    np.testing.assert_array_equal(b.grad, w[:, 1])
    joined = al.concatenate(container([a, b]), 0)
    assert joined.shape == (4, 3) and joined.node.parents == (a, b)
    np.testing.assert_array_equal(joined.data, np.concatenate([a.data, b.data]))


@pytest.mark.parametrize("call", [lambda a, b: al.stack(a, b), lambda a, b: al.stack(a, b, 0),
                                  lambda a, b: al.stack({a, b}),
                                  lambda a, b: al.concatenate([a, b], axis=0, out=a),
                                  lambda a, b: al.stack([])])
def test_stack_refuses_what_numpy_would_not_mean(call) -> None:
    with pytest.raises((SignatureError, al.InputValueError)):
        call(leaf(2), leaf(2))


# ------------------------------------------------------------------------------------ axes
AXIS_OPS = {
    "sum": lambda x, axis: al.sum(x, axis=axis), "mean": lambda x, axis: al.mean(x, axis=axis),
    "max": lambda x, axis: al.max(x, axis=axis), "min": lambda x, axis: al.min(x, axis=axis),
    "logsumexp": lambda x, axis: al.logsumexp(x, axis=axis),
    "softmax": lambda x, axis: al.softmax(x, axis=axis),
    "log_softmax": lambda x, axis: al.log_softmax(x, axis=axis),
    "softmax_cross_entropy": lambda x, axis: al.softmax_cross_entropy(
        x, al.softmax(al.Tensor(np.zeros((2, 3))), axis=-1), axis=axis),
    "stack": lambda x, axis: al.stack([x, x], axis=axis),
    "concatenate": lambda x, axis: al.concatenate([x, x], axis=axis),
}


@pytest.mark.parametrize("name", sorted(AXIS_OPS))
@pytest.mark.parametrize("axis", [2, -3, 7, 1.0, 0.5, True, np.float64(1), "0"])
def test_a_bad_axis_is_refused_everywhere(name, axis) -> None:
    if name == "stack" and axis in (2, -3):
        axis += 1 if axis > 0 else -1  # (stack's output has one more axis)
    with pytest.raises(AxisError, match=name):
        AXIS_OPS[name](leaf(2, 3), axis)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "logsumexp"])
def test_a_repeated_axis_is_refused_and_numpy_integers_are_taken(name) -> None:
    with pytest.raises(AxisError, match="repeats"):
        AXIS_OPS[name](leaf(2, 3), (1, -1))
    x = leaf(2, 3)
    np.testing.assert_array_equal(AXIS_OPS[name](x, np.int64(-1)).data,
                                  AXIS_OPS[name](x, 1).data)
    np.testing.assert_array_equal(AXIS_OPS[name](x, (np.int32(0), 1)).data,
                                  AXIS_OPS[name](x, None).data)


# ------------------------------------------------------------------------------ write paths
def _matmul_loss_grad(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """d/dW of Σ tanh(X W), the closed form."""
    return X.T @ (1 - np.tanh(X @ W) ** 2)


def test_writing_a_leaf_through_data_after_the_forward_keeps_the_recorded_values() -> None:
    X = rng.standard_normal((4, 3))
    W = leaf(3, 2)
    recorded = W.data.copy()
    loss = al.tanh(X @ W).sum()
    W.data[...] = 7.0  # the leaf takes a copy first: the graph keeps what it saw
    assert np.all(W.data == 7.0)
    loss.backward()
    np.testing.assert_allclose(W.grad, _matmul_loss_grad(X, recorded))


def test_writing_through_numpy_of_a_constant_keeps_the_recorded_values() -> None:
    c = al.Tensor(rng.standard_normal(3))
    recorded = c.numpy().copy()
    x = leaf(3)
    loss = (x * c).sum()
    c.numpy()[...] = 0.0
    loss.backward()
    np.testing.assert_array_equal(x.grad, recorded)


def test_changing_the_array_given_to_tensor_does_not_reach_the_graph() -> None:
    a = rng.standard_normal(3)
    recorded = a.copy()
    x = al.Tensor(a, requires_grad=True)
    loss = (x * x).sum()
    a[:] = 100.0
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * recorded)


def test_a_view_taken_before_the_forward_cannot_reach_the_graph() -> None:
    x = leaf(3)
    recorded = x.data.copy()
    view = x.data[:2]
    loss = (x * x).sum()
    view[0] = 100.0
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * recorded)


def test_a_numpy_operand_and_an_index_array_changed_later_do_not_reach_the_graph() -> None:
    x = leaf(3)
    m, index = rng.standard_normal(3), np.array([2, 0, 2])
    recorded_m = m.copy()
    loss = (x * m).sum() + (x[index] ** 2).sum()
    expected = recorded_m + 2 * np.bincount(index, weights=x.data[index], minlength=3)
    m[:] = 0.0
    index[:] = 1
    loss.backward()
    np.testing.assert_allclose(x.grad, expected)


def test_computed_values_and_views_of_leaves_are_read_only() -> None:
    x = leaf(2)
    recorded = x.data.copy()
    loss = (al.exp(x.reshape(2)) * x).sum()
    with pytest.raises(ValueError, match="read-only"):
        x.reshape(2).data += 5  # a view of the leaf, through a computed tensor
    with pytest.raises(ValueError, match="read-only"):
        al.exp(x).detach().data[0] = 1.0
    with al.no_grad():
        constant_view = x.reshape(2)
    with pytest.raises(ValueError, match="read-only"):
        constant_view.data[0] = 1.0
    with pytest.raises(al.InplaceModificationError):
        al.exp(x).data = np.zeros(2)
    loss.backward()
    np.testing.assert_array_equal(x.data, recorded)
    np.testing.assert_allclose(x.grad, np.exp(recorded) * (recorded + 1))


def test_rebinding_a_leaf_to_another_shape_or_dtype_is_an_error_at_backward() -> None:
    for new in (np.ones((3, 1)), np.ones(3, dtype=np.float32)):
        W = leaf(3)
        loss = (W * W).sum()
        W.data = new
        with pytest.raises(al.InplaceModificationError, match="rebound"):
            loss.backward()
    W = leaf(3)
    recorded = W.data.copy()
    loss = (W * W).sum()
    W.data = np.zeros(3)  # same shape and dtype: the graph keeps its array
    loss.backward()
    np.testing.assert_allclose(W.grad, 2 * recorded)


def test_the_sgd_update_after_backward_works_in_place_without_a_copy() -> None:
    X, labels = rng.standard_normal((8, 3)), rng.integers(0, 2, size=8)
    W = leaf(3, 2)
    losses = []
    for _ in range(30):
        before = weakref.ref(W.data)
        loss = al.softmax_cross_entropy(X @ W, labels)
        loss.backward()
        W.data -= 0.5 * W.grad
        W.zero_grad()
        assert W.data is before()  # no graph needed the array any more: no copy was made
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_a_read_only_array_is_shared_without_a_copy_and_a_parameter_stays_updatable() -> None:
    frozen = rng.standard_normal(3)
    frozen.flags.writeable = False
    c = al.Tensor(frozen)
    W = al.Tensor(frozen, requires_grad=True)
    loss = (W * c).sum()
    assert c.data is frozen  # a constant read-only all the way down is shared as it is
    loss.backward()
    W.data -= 0.5 * W.grad  # the parameter moves to a writable copy of its own
    np.testing.assert_allclose(W.data, frozen - 0.5 * frozen)
    np.testing.assert_array_equal(c.data, frozen)


def test_a_retained_graph_keeps_its_values_after_an_update() -> None:
    X = rng.standard_normal((4, 3))
    W = leaf(3, 2)
    recorded = W.data.copy()
    loss = al.tanh(X @ W).sum()
    loss.backward(retain_graph=True)
    W.data -= 0.1 * W.grad
    W.zero_grad()
    loss.backward()
    np.testing.assert_allclose(W.grad, _matmul_loss_grad(X, recorded))


# ----------------------------------------------------------------------------------- threads
def test_eight_threads_accumulate_into_one_shared_leaf_exactly() -> None:
    values = rng.standard_normal(20_000)  # (large: NumPy releases the GIL while adding)
    W = al.Tensor(values, requires_grad=True)
    retained = (W * W).sum()  # one graph shared by every thread
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work(shared: bool) -> None:
        try:
            barrier.wait()
            for _ in range(100):
                if shared:
                    retained.backward(retain_graph=True)
                else:
                    (W * W).sum().backward()
        except BaseException as exc:  # (reported below; a thread's error is otherwise lost)
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: a lost update would show
    try:
        for shared in (False, True):
            W.zero_grad()
            threads = [threading.Thread(target=work, args=(shared,)) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert not errors
            np.testing.assert_allclose(W.grad, 8 * 100 * 2 * values, rtol=1e-12)  # 800 passes
    finally:
        sys.setswitchinterval(interval)


# ------------------------------------------------------- cross-entropy: second order in target
def test_the_cross_entropy_is_differentiable_twice_in_a_probability_target() -> None:
    logits0, scores0 = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    v = rng.standard_normal((3, 4))

    def loss_of(logits: al.Tensor, scores: al.Tensor, builtin: bool) -> al.Tensor:
        target = al.softmax(scores, axis=1)  # a probability target that requires grad
        if builtin:
            return al.softmax_cross_entropy(logits, target, axis=1)
        # independent: −Σ y log softmax(x), averaged over rows, from plain ops
        return -(target * al.log_softmax(logits, axis=1)).sum() / 3

    def mixed(builtin: bool, first: int) -> list[np.ndarray]:
        """∂/∂(the other) of ⟨∂loss/∂(input `first`), v⟩, and the first-order gradients."""
        leaves = [al.Tensor(logits0, requires_grad=True), al.Tensor(scores0, requires_grad=True)]
        (g,) = al.grad(loss_of(*leaves, builtin), leaves[first], create_graph=True)
        return al.grad((g * v).sum(), leaves[1 - first])[0]

    for first in (0, 1):  # through the VJP in the logits, then through the one in the target
        np.testing.assert_allclose(mixed(True, first), mixed(False, first), rtol=1e-10,
                                   atol=1e-12)

    def directional(s: np.ndarray) -> float:
        leaves = [al.Tensor(logits0, requires_grad=True), al.Tensor(s)]
        (g,) = al.grad(loss_of(*leaves, True), leaves[0])
        return float(np.sum(g * v))

    np.testing.assert_allclose(mixed(True, 0), fd_gradient(directional, [scores0], 0),
                               rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------------------------------- 0**y
def test_the_gradient_of_a_power_in_its_exponent_at_a_zero_base() -> None:
    base = np.array([0.0, 0.0, 2.0, 0.5])
    y = al.Tensor(np.array([1.5, 2.0, 0.7, 3.0]), requires_grad=True)
    (base ** y).sum().backward()
    expected = np.where(base == 0, 0.0, base ** y.data * np.log(np.where(base == 0, 1, base)))
    np.testing.assert_allclose(y.grad, expected)
    assert np.all(np.isfinite(y.grad))
    numeric = fd_gradient(lambda e: float(np.sum(base ** e)), [y.data], 0)
    np.testing.assert_allclose(y.grad[2:], numeric[2:], rtol=1e-7)
    x = al.Tensor(np.array([0.0, 3.0]), requires_grad=True)
    (x ** y[:2]).sum().backward()  # both tracked: the base's gradient is unchanged
    np.testing.assert_allclose(x.grad, [0.0, 2.0 * 3.0])


# ------------------------------------------------------------------------------------ complex
@pytest.mark.parametrize("make", [lambda x: x + 1j, lambda x: x * np.array([1j, 1, 1]),
                                  lambda x: 1j * x, lambda x: al.Tensor(np.ones(3)) + 1j,
                                  lambda x: x ** (0.5 + 0j)])
def test_a_complex_result_is_refused(make) -> None:
    with pytest.raises(al.DTypeError, match="complex"):
        make(leaf(3))


# --------------------------------------------------------------------------- pickle and copy
@pytest.mark.parametrize("clone", [lambda t: pickle.loads(pickle.dumps(t)), copy.deepcopy])
def test_tensors_pickle_and_deep_copy_as_leaves(clone) -> None:
    W = al.Tensor(rng.standard_normal(3), requires_grad=True, name="W")
    hidden = al.tanh(W)
    hidden.sum().backward()
    W2 = clone(W)
    assert W2.requires_grad and W2.is_leaf and W2.name == "W" and W2 is not W
    np.testing.assert_array_equal(W2.data, W.data)
    np.testing.assert_array_equal(W2.grad, W.grad)
    W2.data[0] += 1.0  # independent arrays
    assert W2.data[0] != W.data[0]
    h2 = clone(hidden)  # an intermediate: its values, as a detached leaf
    assert h2.is_leaf and not h2.requires_grad
    np.testing.assert_array_equal(h2.data, hidden.data)
    (al.tanh(W2) * 2).sum().backward()  # the copy is a working leaf
    np.testing.assert_allclose(W2.grad, W.grad + 2 * (1 - np.tanh(W2.data) ** 2))


@pytest.mark.parametrize("call", [
    lambda x, i: al.getitem(x, index=i), lambda x, i: al.repeat(x, i),
    lambda x, i: al.pad(x, i[:2]),
])
def test_an_index_array_changed_after_the_forward_does_not_change_the_gradient(call) -> None:
    """Settings that hold arrays (an index, repeat counts, pad widths) are copied when the call
    is recorded: the gradient is the one of the forward that ran, not of the changed array."""
    def gradient(change_after_forward: bool) -> np.ndarray:
        x = al.Tensor(np.arange(1.0, 4.0), requires_grad=True)
        index = np.array([0, 2, 1])
        out = call(x, index)
        if change_after_forward:
            index[:] = [1, 1, 1]
        (out * np.arange(1.0, out.size + 1).reshape(out.shape)).sum().backward()
        return x.grad

    np.testing.assert_array_equal(gradient(True), gradient(False))
