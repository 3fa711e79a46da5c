"""Bad input gets a clear error (the op, the shapes or values, what to do), never a wrong number."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_lite as al


def leaf(*shape: int) -> al.Tensor:
    return al.Tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)


# --------------------------------------------------------------------------------- shapes
def test_shapes_that_do_not_broadcast() -> None:
    with pytest.raises(al.ShapeError, match=r"add: shapes \(3, 4\) and \(3,\) do not broadcast"
                                            r".*axis -1: sizes 3 vs 4.*reshape") as info:
        leaf(3, 4) + leaf(3)
    assert isinstance(info.value, ValueError)
    with pytest.raises(al.ShapeError, match="mul: shapes"):
        leaf(2, 3) * np.ones((4, 3))


def test_matmul_inner_dimensions() -> None:
    with pytest.raises(al.ShapeError, match=r"matmul: inner dimensions differ in \(2, 3\) @ "
                                            r"\(2, 5\): 3 != 2.*transpose"):
        leaf(2, 3) @ leaf(2, 5)
    with pytest.raises(al.ShapeError, match="scalar"):
        leaf(2) @ al.Tensor(2.0)


def test_backward_seed_of_the_wrong_shape_and_non_scalar_without_seed() -> None:
    y = leaf(3) * 2
    with pytest.raises(al.ShapeError, match=r"seed gradient has shape \(2,\).*\(3,\)"):
        y.backward(np.ones(2))
    with pytest.raises(al.GraphError, match=r"shape \(3,\) needs a seed gradient"):
        y.backward()


# --------------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize(("data", "what"), [
    (np.arange(3), "int64"), (np.array([True, False]), "bool"),
])
def test_requires_grad_on_non_float_data(data, what) -> None:
    with pytest.raises(al.DTypeError, match=f"requires_grad=True needs floating-point.*{what}"):
        al.Tensor(data, requires_grad=True)
    t = al.Tensor(data)
    with pytest.raises(al.DTypeError):
        t.requires_grad = True


@pytest.mark.parametrize(("data", "match"), [
    (np.array([1 + 2j]), "complex"), (np.array([object()]), "object"),
    ("abc", "str"), (np.array(["a", "b"]), "string"), ({"a": 1}, "dict"), (None, "NoneType"),
])
def test_unsupported_data(data, match) -> None:
    with pytest.raises(al.DTypeError, match=match):
        al.Tensor(data)


def test_ragged_lists() -> None:
    with pytest.raises(al.InputValueError, match="rectangular"):
        al.Tensor([[1.0, 2.0], [3.0]])


# -------------------------------------------------------------------------- cross-entropy
@pytest.mark.parametrize(("labels", "match"), [
    (np.array([0, 3]), "class index 3 is out of range for 3 classes"),
    (np.array([-1, 0]), "class index -1 is out of range"),
    (np.array([0.0, 1.0]), "class indices must be integers"),
    (np.array([[0, 1]]), "fits neither convention"),
    (np.ones((2, 4)), "fits neither convention"),
])
def test_bad_class_targets(labels, match) -> None:
    with pytest.raises(al.AutogradLiteError, match=match):
        al.softmax_cross_entropy(leaf(2, 3), labels)


INTEGER_TYPES = [np.dtype(f"{order}{kind}{size}") for order in "<>" for kind in "iu"
                 for size in (1, 2, 4, 8)]


@settings(max_examples=60)
@given(dtype=st.sampled_from(INTEGER_TYPES), classes=st.integers(1, 6),
       values=st.lists(st.integers(-130, 260), min_size=1, max_size=8))
def test_class_indices_out_of_range_are_refused_for_every_integer_type(dtype, classes,
                                                                        values) -> None:
    """Negative and too-large indices are refused whatever the integer type and byte order
    (the check reads signed indices as unsigned), and valid ones give a loss."""
    info = np.iinfo(dtype)
    labels = np.array([v for v in values if info.min <= v <= info.max] or [0], dtype=dtype)
    bad = (labels.astype(np.int64) < 0) | (labels.astype(np.int64) >= classes)
    logits = leaf(len(labels), classes)
    if bad.any():
        with pytest.raises(al.InputValueError, match=f"class index {labels[bad][0]} is out"):
            al.softmax_cross_entropy(logits, labels)
    else:
        assert np.isfinite(al.softmax_cross_entropy(logits, labels).item())


def test_probability_targets_that_are_not_distributions_warn_and_stay_exact() -> None:
    target = np.array([[0.5, 0.9, 0.1]])  # sums to 1.5
    x = leaf(1, 3)
    with pytest.warns(al.TargetWarning, match="sum"):
        loss = al.softmax_cross_entropy(x, target)
    loss.backward()
    p = np.exp(x.data) / np.exp(x.data).sum()
    np.testing.assert_allclose(loss.item(), -(target * np.log(p)).sum(), rtol=1e-13)
    np.testing.assert_allclose(x.grad, p * target.sum() - target, rtol=1e-12)


def test_bad_reduction_and_empty_mean() -> None:
    with pytest.raises(al.InputValueError, match="reduction must be one of"):
        al.softmax_cross_entropy(leaf(2, 3), np.array([0, 1]), reduction="avg")
    with pytest.raises(al.InputValueError, match="zero rows"):
        al.softmax_cross_entropy(leaf(0, 3), np.zeros(0, dtype=int))
    with pytest.raises(al.InputValueError, match=r"mean: .*zero elements"):
        leaf(0, 3).mean()


# ------------------------------------------------------------------------ tape misuse
def test_in_place_change_of_a_saved_leaf_leaves_the_graph_its_values() -> None:
    W = leaf(3, 2)
    X = np.random.default_rng(3).standard_normal((4, 3))
    recorded = W.data.copy()
    loss = (al.tanh(X @ W)).sum()
    W.data -= 0.1  # the leaf takes a copy (copy-on-write): matmul keeps what it saved
    np.testing.assert_allclose(W.data, recorded - 0.1)
    loss.backward()
    np.testing.assert_allclose(W.grad, X.T @ (1 - np.tanh(X @ recorded) ** 2))


def test_in_place_change_of_an_intermediate_is_refused_at_the_write() -> None:
    x = leaf(3)
    h = al.exp(x)
    loss = (h * h).sum()
    with pytest.raises(ValueError, match="read-only"):
        h.data *= 2
    with pytest.raises(al.InplaceModificationError, match=r"cannot assign \.data of a tensor"):
        h.data = np.zeros(3)
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * np.exp(2 * x.data))


def test_in_place_change_of_an_array_no_vjp_reads_is_harmless() -> None:
    x, y = leaf(3), leaf(3)
    loss = (x + y).sum()  # add's gradient does not depend on x or y
    x.data += 1.0
    loss.backward()
    np.testing.assert_array_equal(x.grad, np.ones(3))


def test_the_usual_update_after_backward_keeps_working() -> None:
    W = leaf(3, 2)
    X = np.random.default_rng(1).standard_normal((4, 3))
    losses = []
    for _ in range(20):
        loss = al.softmax_cross_entropy(X @ W, np.array([0, 1, 1, 0]))
        W.zero_grad()
        loss.backward()
        W.data -= 0.5 * W.grad
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_rebinding_data_is_safe_and_not_a_mutation() -> None:
    W = leaf(2)
    loss = (W * W).sum()
    old = W.data.copy()
    W.data = W.data + 1.0  # a new array: the graph keeps the old one
    loss.backward()
    np.testing.assert_allclose(W.grad, 2 * old)


def test_item_assignment_is_refused() -> None:
    with pytest.raises(al.GraphError, match="item assignment"):
        leaf(3)[0] = 1.0


def test_freed_graph_and_detached_outputs() -> None:
    x = leaf(2)
    y = al.exp(x).sum()
    y.backward()
    with pytest.raises(al.GraphError, match="freed"):
        y.backward()
    with pytest.raises(al.GraphError, match="does not require grad"):
        al.exp(x).sum().detach().backward()
    with al.no_grad():
        z = al.exp(x).sum()
    with pytest.raises(al.GraphError, match="no_grad"):
        z.backward()
    with pytest.raises(al.GraphError, match="requires_grad can only be changed on leaf"):
        al.exp(x).requires_grad = False


def test_index_errors() -> None:
    with pytest.raises(al.InputIndexError, match=r"getitem.*out of bounds") as info:
        leaf(3)[np.array([0, 5])]
    assert isinstance(info.value, IndexError)
    with pytest.raises(al.InputIndexError, match="integers or booleans"):
        leaf(3)[np.array([0.0, 1.0])]


def test_registry_errors() -> None:
    with pytest.raises(al.RegistryError, match="no op named 'nope'"):
        al.get_op("nope")
    with pytest.raises(al.RegistryError, match="identifiers"):
        al.register_op("bad name", np.exp, lambda g, out, x: (g,))


# ---------------------------------------------------------------------------- anomalies
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's own warning for log(-1)
def test_anomaly_mode_names_the_forward_op_and_the_line() -> None:
    x = al.Tensor([1.0, -1.0], requires_grad=True)
    with al.detect_anomaly(), pytest.raises(al.AnomalyError,
                                            match=r"forward of op 'log'.*test_errors\.py:\d+"):
        al.log(x)
    assert isinstance(al.AnomalyError("x"), FloatingPointError)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's own warning for 1/0
def test_anomaly_mode_names_the_backward_op() -> None:
    x = al.Tensor([0.0, 4.0], requires_grad=True)
    with al.detect_anomaly():
        y = al.sqrt(x).sum()  # finite forward, infinite derivative at 0
        with pytest.raises(al.AnomalyError, match=r"backward of op 'sqrt'.*test_errors\.py"):
            y.backward()


def test_without_anomaly_mode_nan_propagates_like_numpy() -> None:
    with np.errstate(invalid="ignore"):
        assert np.isnan(al.log(al.Tensor([-1.0])).data[0])


# -------------------------------------------------------------------------- edge shapes
def test_empty_tensors_work() -> None:
    x = al.Tensor(np.zeros((0, 3)), requires_grad=True)
    (x * 2).sum().backward()
    assert x.grad.shape == (0, 3)
    W = leaf(3, 2)
    (x @ W).sum().backward()
    np.testing.assert_array_equal(W.grad, np.zeros((3, 2)))
    assert al.softmax(x).shape == (0, 3)


def test_float32_mixed_with_float64_follows_numpy() -> None:
    a = al.Tensor(np.ones(2, np.float32), requires_grad=True)
    assert (a + 1.0).dtype == np.float32  # a Python scalar does not promote
    assert (a + np.ones(2)).dtype == np.float64  # a float64 array does
    assert (a * al.Tensor(np.ones(2, np.float32))).dtype == np.float32


def test_every_error_class_is_exported_from_the_package() -> None:
    """`except al.SomethingError` works for every error the package raises."""
    import importlib
    import pkgutil

    for module in pkgutil.walk_packages(al.__path__, "autograd_lite."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    missing = sorted({c.__name__ for c in subclasses(al.AutogradLiteError)
                      if c.__module__.startswith("autograd_lite")
                      and getattr(al, c.__name__, None) is not c})
    assert missing == []


@pytest.mark.parametrize(("call", "op"), [
    (lambda x: al.linalg.norm(x, axis=5), "linalg.norm"),
    (lambda x: al.linalg.norm(x, axis=(0, 2)), "linalg.norm"),
    (lambda x: al.linalg.vector_norm(x, axis=-3), "linalg.vector_norm"),
    (lambda x: al.prod(x, axis=2), "prod"),
    (lambda x: al.var(x, axis=2), "var"),
    (lambda x: al.take(x, np.array([0]), axis=2), "take"),
])
def test_an_out_of_range_axis_is_an_axis_error_naming_the_op(call, op) -> None:
    """Never wrapped around (axis 5 of a 2-D array is not axis 1): refused, with the op."""
    with pytest.raises(al.AxisError, match=f"{op}: axis"):
        call(np.ones((2, 3)))
