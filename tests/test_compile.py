"""al.compile: the generated program equals the eager tape (bitwise: the same NumPy calls in
the same order), retraces on new shapes, dtypes and static arguments, refuses what a replay
would get wrong, and its source is ruff-clean Python."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest
from helpers import fd_gradient

import autograd_lite as al
from autograd_lite.compile import CompileError, ConcretizationError


def net_data(n=20, dx=10, h=5, dy=10, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    arrays = (rng.standard_normal((n, dx)), rng.standard_normal((dx, h)) * 0.1,
              rng.standard_normal(h) * 0.1, rng.standard_normal((h, dy)) * 0.1,
              rng.standard_normal(dy) * 0.1)
    return (*(a.astype(dtype) for a in arrays), rng.integers(0, dy, n))


def net_loss(X, W1, b1, W2, b2, labels):
    h = al.sigmoid(X @ W1 + b1)
    h.name = "h"
    return al.softmax_cross_entropy(h @ W2 + b2, labels)


ALL = (0, 1, 2, 3, 4)


def test_net_value_and_gradients_equal_the_tape_bitwise_and_finite_differences():
    data = net_data()
    step = al.compile(al.func.value_and_grad(net_loss, argnums=ALL))
    eager = al.func.value_and_grad(net_loss, argnums=ALL)
    for seed in (0, 1):  # trace, then replay on other values
        data = net_data(seed=seed)
        value, grads = step(*data)
        e_value, e_grads = eager(*data)
        assert np.array_equal(value, e_value)
        for g, e in zip(grads, e_grads):
            assert g.dtype == e.dtype and np.array_equal(g, e)
    assert len(step.cache) == 1
    forward = al.compile(net_loss)
    numeric = fd_gradient(lambda *a: float(forward(*a, data[5])), list(data[:5]), 2)
    np.testing.assert_allclose(grads[2], numeric, rtol=1e-6, atol=1e-9)


def test_source_is_readable_straight_line_numpy():
    step = al.compile(al.func.value_and_grad(net_loss, argnums=(1, 2)))
    step(*net_data())
    source = step.source
    assert source.startswith("def net_loss(X, W1, b1, W2, b2, labels):")
    assert "h = sigmoid_forward(" in source  # named after the named intermediate
    assert "d_h = np.matmul(" in source and "d_W1 = np.matmul(X_T," in source
    assert "d_X" not in source  # X is not differentiated: its gradient is never formed
    assert "out=" in source  # buffers reused where an operand dies
    assert all(len(line) <= 100 for line in source.splitlines())


def test_generated_source_is_ruff_clean(tmp_path):
    step = al.compile(al.func.value_and_grad(net_loss, argnums=ALL))
    step(*net_data())
    chain = al.compile(al.func.grad(lambda x: al.sum(al.tanh(x * 0.5 + 1.0) ** 2)))
    chain(np.ones((3, 2)))
    for i, compiled in enumerate((step, chain)):
        program = compiled.cache[next(iter(compiled.cache))][0]
        names = sorted(set(program.namespace_names) - {"np"})
        header = ["from typing import Any", "", "import numpy as np", "",
                  "namespace: dict[str, Any] = {}",
                  *(f"{n} = namespace[{n!r}]" for n in names), "", ""]
        path = tmp_path / f"generated_{i}.py"
        path.write_text("\n".join(header) + compiled.source)
        result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache",
                                 "--line-length", "100", "--select", "E,F,W,B", str(path)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr + compiled.source


def test_retraces_on_new_shapes_and_dtypes_and_keeps_float32():
    step = al.compile(al.func.value_and_grad(net_loss, argnums=ALL))
    eager = al.func.value_and_grad(net_loss, argnums=ALL)
    for data in (net_data(), net_data(n=7), net_data(dtype=np.float32), net_data()):
        value, grads = step(*data)
        e_value, e_grads = eager(*data)
        assert value.dtype == e_value.dtype == data[0].dtype
        assert np.array_equal(value, e_value)
        for g, e, x in zip(grads, e_grads, data):
            assert g.dtype == x.dtype and g.shape == x.shape and np.array_equal(g, e)
    assert len(step.cache) == 3


def test_grad_has_aux_containers_and_broadcasting():
    def loss(params, x, scale):
        y = al.tanh(x @ params["W"] + params["b"]) * scale
        return al.mean(y ** 2), y

    params = {"W": np.random.default_rng(1).standard_normal((3, 2)), "b": np.array([0.5, -1.0])}
    x = np.random.default_rng(2).standard_normal((4, 3))
    compiled = al.compile(al.func.grad(loss, has_aux=True))
    (grads, aux) = compiled(params, x, 2.0)
    (e_grads, e_aux) = al.func.grad(loss, has_aux=True)(params, x, 2.0)
    assert set(grads) == {"W", "b"} and np.array_equal(aux, e_aux)
    for k in grads:
        assert np.array_equal(grads[k], e_grads[k])
    compiled(params, x, 3.0)  # a static argument: its own program
    assert len(compiled.cache) == 2


def test_plain_function_and_unused_argument_and_constant_output():
    def f(x, y):
        return al.exp(x) * 2.0, np.ones(2)

    compiled = al.compile(f)
    x = np.linspace(-1, 1, 5)
    out, const = compiled(x, x)
    assert np.array_equal(out, np.exp(x) * 2.0) and np.array_equal(const, np.ones(2))
    const[0] = 7.0  # the caller owns the results
    assert np.array_equal(compiled(x, x)[1], np.ones(2))
    g = al.compile(al.func.grad(lambda a, b: al.sum(a * 3.0), argnums=(0, 1)))(x, x)
    assert np.array_equal(g[0], np.full(5, 3.0)) and np.array_equal(g[1], np.zeros(5))


def test_results_never_alias_inputs():
    compiled = al.compile(lambda x: al.reshape(x, shape=(2, 2)))
    x = np.arange(4.0)
    out = compiled(x)
    out[0, 0] = 99.0
    assert x[0] == 0.0
    g = al.compile(al.func.grad(lambda x: al.sum(x)))(x)
    g2 = al.compile(al.func.grad(lambda x: al.sum(x)))(x)
    g[0] = 5.0
    assert g2[0] == 1.0


def test_long_chain_bitwise():
    def chain(x):
        for i in range(400):
            x = (x + 0.1, x * 0.9, al.sigmoid(x), al.tanh(x))[i % 4]
        return al.sum(x)

    x = np.random.default_rng(0).standard_normal(4)
    compiled = al.compile(al.func.value_and_grad(chain))
    value, grad = compiled(x)
    e_value, e_grad = al.func.value_and_grad(chain)(x)
    assert np.array_equal(value, e_value) and np.array_equal(grad, e_grad)


def test_nested_compile_runs_inline():
    inner = al.compile(lambda x: al.exp(x))
    outer = al.compile(al.func.grad(lambda x: al.sum(inner(x) * x)))
    x = np.array([0.5, -0.25])
    assert np.array_equal(outer(x), al.func.grad(lambda x: al.sum(al.exp(x) * x))(x))


# --------------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("body", [
    lambda x: x * 2 if al.sum(x) else x,           # bool(t)
    lambda x: x * float(al.sum(x)),                # float(t)
    lambda x: x * al.sum(x).item(),                # t.item()
    lambda x: x * int(al.sum(x)),                  # int(t)
    lambda x: x if (al.sum(x) > 0) else -x,        # a comparison as a condition
    lambda x: x * (x > 0),                         # a comparison as a mask
    lambda x: x * al.Tensor(x.data),               # reading .data
    lambda x: x * np.asarray(x),                   # conversion to an array
])
def test_branches_and_conversions_on_traced_values_are_refused(body):
    compiled = al.compile(lambda x: al.sum(body(x)))
    with pytest.raises(ConcretizationError, match="traced value"):
        compiled(np.ones(3))
    assert al.sum(body(al.Tensor(np.ones(3)))).shape == ()  # eager is fine


def test_random_draws_inside_f_are_refused_unless_seeded_by_an_argument():
    state = np.random.get_state()
    with pytest.raises(CompileError, match="global generator"):
        al.compile(lambda x: x * np.random.standard_normal(3))(np.ones(3))
    assert np.array_equal(np.random.get_state()[1], state[1])  # restored
    with pytest.raises(CompileError, match="random module"):
        al.compile(lambda x: x * random.random())(np.ones(3))
    with pytest.raises(CompileError, match="without a seed"):
        al.compile(lambda x: x * np.random.default_rng().standard_normal(3))(np.ones(3))
    with pytest.raises(CompileError, match="generator as an argument"):
        al.compile(lambda x, rng: x * rng.standard_normal(3))(np.ones(3),
                                                             np.random.default_rng(0))

    def noisy(x, seed):
        return x * np.random.default_rng(seed).standard_normal(3)

    compiled = al.compile(noisy)
    for seed in (0, 1, 0):
        assert np.array_equal(compiled(np.ones(3), seed), noisy(np.ones(3), seed))
    assert len(compiled.cache) == 2


def test_in_place_change_of_an_input_is_refused():
    x = np.ones(3)

    def f(t):
        x[0] = 5.0  # writes the very array passed in
        return t * 2.0

    with pytest.raises(CompileError, match="in place"):
        al.compile(f)(x)


def test_backward_and_other_transforms_inside_f_are_refused():
    with pytest.raises(CompileError, match="compile the transform"):
        al.compile(lambda x: al.sum(x * x).backward())(np.ones(2))
    with pytest.raises(CompileError, match="jacrev is not supported"):
        al.compile(al.func.jacrev(lambda x: x * x))(np.ones(2))
    with pytest.raises(CompileError, match="requires grad"):
        al.compile(lambda x: x)(al.Tensor(np.ones(2), requires_grad=True))
    with pytest.raises(CompileError, match="nothing traced"):
        _ = al.compile(lambda x: x).source


def test_errors_inside_f_are_the_eager_ones():
    compiled = al.compile(lambda a, b: a @ b)
    with pytest.raises(al.ShapeError, match="inner dimensions"):
        compiled(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(al.DTypeError, match="cannot differentiate"):
        al.compile(al.func.grad(lambda x: al.sum(x)))(np.arange(3))


def test_backward_source_helper():
    data = net_data()
    source = al.compile.__module__ and __import__(
        "autograd_lite.compile", fromlist=["backward_source"]).backward_source(
        net_loss, *data, argnums=(1, 3))
    assert "d_W2 = np.matmul(h_T," in source and "return " in source


def test_long_programs_run_as_steps_with_the_same_results(monkeypatch):
    """Above LARGE lines the program runs as a list of steps instead of compiled source."""
    module = sys.modules["autograd_lite.compile"]
    monkeypatch.setattr(module, "LARGE", 5)
    data = net_data()
    step = al.compile(al.func.value_and_grad(net_loss, argnums=ALL))
    value, grads = step(*data)
    e_value, e_grads = al.func.value_and_grad(net_loss, argnums=ALL)(*data)
    assert np.array_equal(value, e_value)
    assert all(np.array_equal(g, e) for g, e in zip(grads, e_grads))
    assert "d_W1" in step.source and "out=" not in step.source  # (no buffer reuse there)


def test_large_arrays_are_deleted_after_their_last_use_with_the_same_results():
    data = net_data(n=256, dx=100, h=64, dy=10)
    step = al.compile(al.func.value_and_grad(net_loss, argnums=ALL))
    value, grads = step(*data)
    e_value, e_grads = al.func.value_and_grad(net_loss, argnums=ALL)(*data)
    assert np.array_equal(value, e_value)
    assert all(np.array_equal(g, e) for g, e in zip(grads, e_grads))
    assert "    del " in step.source


def test_threads_trace_independently():
    import threading

    def make(k):
        return al.compile(al.func.value_and_grad(lambda x: al.sum(al.tanh(x * k) ** 2)))

    results, errors = {}, []

    def work(k):
        try:
            x = np.linspace(-1, 1, 50) + k
            compiled = make(float(k))
            for _ in range(5):
                results[k] = (compiled(x), al.func.value_and_grad(
                    lambda x: al.sum(al.tanh(x * float(k)) ** 2))(x))
        except Exception as exc:  # (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for (value, grad), (e_value, e_grad) in results.values():
        assert np.array_equal(value, e_value) and np.array_equal(grad, e_grad)


def test_the_docs_example_runs_and_matches_the_tape():
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parent.parent / "docs" / "compile.md"
    example = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)[0]
    namespace: dict = {}
    exec(compile(example, "docs/compile.md", "exec"), namespace)  # (prints the source)
    n = namespace
    e_value, e_grads = al.func.value_and_grad(n["loss"], argnums=(1, 2, 3, 4))(
        n["X"], n["W1"], n["b1"], n["W2"], n["b2"], n["labels"])
    assert np.array_equal(n["value"], e_value)
    assert all(np.array_equal(g, e) for g, e in zip(n["grads"], e_grads))
    assert "def loss(X, W1, b1, W2, b2, labels):" in n["step"].source


def test_a_user_op_with_one_joint_vjp_compiles():
    softplus = al.register_op(
        "softplus_h11_test", forward=lambda x, y: np.logaddexp(0.0, x) * y,
        vjp=lambda g, out, x, y: (g * y / (1.0 + np.exp(-x)), g * np.logaddexp(0.0, x)))

    def loss(x, y):
        return al.sum(softplus(x, y) * x)

    x, y = np.linspace(-2, 2, 6), np.linspace(1, 3, 6)
    grads = al.compile(al.func.grad(loss, argnums=(0, 1)))(x, y)
    expected = al.func.grad(loss, argnums=(0, 1))(x, y)
    assert all(np.array_equal(g, e) for g, e in zip(grads, expected))
    numeric = fd_gradient(lambda a, b: float(al.compile(loss)(a, b)), [x, y], 0)
    np.testing.assert_allclose(grads[0], numeric, rtol=1e-6)


def test_a_traced_value_kept_after_tracing_is_refused():
    kept = []

    def f(x):
        y = al.exp(x)
        kept.append(y)
        return y

    al.compile(f)(np.ones(2))
    with pytest.raises(ConcretizationError, match="after its function was traced"):
        al.exp(kept[0])
    with pytest.raises(ConcretizationError):
        kept[0] + 1.0
    with pytest.raises(ConcretizationError):
        np.exp(kept[0])


def test_sigmoid_and_user_ops_taking_out_write_into_a_dying_operand():
    """A forward with a keyword-only out= (as a ufunc has) is no setting of the op, and a
    compiled program hands it the buffer of an operand that dies there."""
    def _softsign(x, *, out=None):
        return np.divide(x, np.abs(x) + 1.0, out=out)

    softsign = al.register_op("softsign_into", _softsign,
                              [lambda g, out, x: g * (1.0 - np.abs(out)) ** 2], saves="output")
    assert "out" not in softsign.settings and "out" not in str(softsign.signature)
    with pytest.raises(al.SignatureError, match="out="):
        al.sigmoid(np.ones(3), out=np.empty(3))

    def loss(x):
        return al.sum(softsign(x * 2.0) * al.sigmoid(x * 3.0))

    step = al.compile(al.func.value_and_grad(loss))
    x = np.random.default_rng(3).standard_normal((40, 30))
    value, grad = step(x)
    assert "softsign_into_forward(mul, out=mul)" in step.source
    assert "sigmoid_forward(mul_2, out=mul_2)" in step.source
    e_value, e_grad = al.func.value_and_grad(loss)(x)
    assert np.array_equal(value, e_value) and np.array_equal(grad, e_grad)
    s, u = 1.0 / (1.0 + np.exp(-3.0 * x)), 2.0 * x  # the closed form
    np.testing.assert_allclose(grad, 2.0 / (1.0 + np.abs(u)) ** 2 * s
                               + u / (1.0 + np.abs(u)) * 3.0 * s * (1.0 - s), rtol=1e-12)


def test_cross_entropy_checks_shapes_once_and_label_values_on_every_call():
    """The compiled cross-entropy takes its settings decided while tracing; class indices are
    still range-checked on every call, and probability targets still warn."""
    step = al.compile(al.func.value_and_grad(net_loss, argnums=ALL))
    data = net_data()
    step(*data)
    assert "indices=True" in step.source
    bad = data[5].copy()
    bad[7] = 10
    with pytest.raises(al.InputValueError, match="class index 10 is out of range"):
        step(*data[:5], bad)
    bad[7] = -1
    with pytest.raises(al.InputValueError, match="class index -1 is out of range"):
        step(*data[:5], bad)

    def soft(logits, target):
        return al.softmax_cross_entropy(logits, target)

    probs = al.compile(al.func.grad(soft))
    logits = np.random.default_rng(1).standard_normal((4, 3))
    target = np.full((4, 3), 1 / 3)
    probs(logits, target)
    with pytest.warns(al.TargetWarning, match="sum"):
        probs(logits, target * 2)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("layout", ["C", "F"])
def test_cross_entropy_gradient_on_any_axis_and_memory_layout(axis, layout):
    """softmax − one-hot, picked by flat positions: right for any class axis and for logits in
    Fortran order (where the positions must not be written into a copy)."""
    rng = np.random.default_rng(5)
    logits = np.asarray(rng.standard_normal((6, 4)), order=layout)
    classes = logits.shape[axis]
    labels = rng.integers(0, classes, logits.shape[1 - axis % 2])
    grad = al.func.grad(lambda z: al.softmax_cross_entropy(z, labels, axis=axis,
                                                           reduction="sum"))(logits)
    shifted = logits - logits.max(axis=axis, keepdims=True)
    expected = np.exp(shifted) / np.exp(shifted).sum(axis=axis, keepdims=True)
    one_hot = np.moveaxis(np.eye(classes)[labels], -1, axis % 2)
    np.testing.assert_allclose(grad, expected - one_hot, rtol=1e-13, atol=1e-15)
    compiled = al.compile(al.func.grad(lambda z, y: al.softmax_cross_entropy(
        z, y, axis=axis, reduction="sum")))
    assert np.array_equal(compiled(logits, labels), grad)


def test_the_seed_is_a_constant_and_gradients_made_from_it_are_the_callers():
    """d loss/d loss = 1 is a constant of the program; a gradient that is a view of it (the sum's
    broadcast) is copied out, so the caller may write to it."""
    step = al.compile(al.func.grad(lambda x: al.sum(x)))
    first = step(np.zeros(3))
    assert "np.ones" not in step.source
    first += 5.0
    second = step(np.zeros(3))
    assert np.array_equal(second, np.ones(3)) and second.flags.writeable


@pytest.mark.parametrize("shape, axis", [((5,), 0), ((1,), -1), ((2, 3, 4), -1), ((2, 3, 4), 1),
                                         ((3, 1, 2), 0)])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_cross_entropy_of_one_row_and_of_many_axes(shape, axis, reduction):
    """One row (a 0-d label) and rows in several axes: the loss keeps the rows' shape under
    reduction='none', and the gradient is (softmax − one-hot) per unit of each row's seed."""
    rng = np.random.default_rng(len(shape) + axis)
    logits = rng.standard_normal(shape)
    rows = logits.shape[:axis % len(shape)] + logits.shape[axis % len(shape) + 1:]
    labels = rng.integers(0, shape[axis], rows)
    weights = rng.standard_normal(rows)

    def loss(z, y):
        out = al.softmax_cross_entropy(z, y, axis=axis, reduction=reduction)
        assert out.shape == (rows if reduction == "none" else ())
        return al.sum(out * weights) if reduction == "none" else out

    shifted = logits - logits.max(axis=axis, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=axis, keepdims=True)
    one_hot = np.moveaxis(np.eye(shape[axis])[labels], -1, axis % len(shape))
    scale = (np.expand_dims(weights, axis) if reduction == "none" else
             1.0 / max(1, int(np.prod(rows))) if reduction == "mean" else 1.0)
    grad = al.func.grad(loss)(logits, labels)
    np.testing.assert_allclose(grad, (probs - one_hot) * scale, rtol=1e-12, atol=1e-15)
    assert np.array_equal(al.compile(al.func.grad(loss))(logits, labels), grad)


def test_a_user_op_specializes_its_forward_while_tracing():
    """register_op(..., specialize=): called once while tracing with the inputs and settings;
    the program calls the forward it returns, with its settings; eager calls never use it."""
    seen = []

    def scale_forward(x, factor=2.0):
        return x * factor

    def scale_specialized(x, *, factor, square):
        return x * factor * factor if square else x * factor

    def specialize(x, factor=2.0):
        seen.append((np.shape(x), factor))
        return scale_specialized, {"factor": float(factor), "square": False}

    scale = al.register_op("scale_specialized", scale_forward,
                           [lambda g, out, x, factor=2.0: g * factor], specialize=specialize)
    x = np.linspace(-1.0, 1.0, 6)
    assert np.array_equal(scale(x, factor=3.0), x * 3.0) and seen == []  # eager: not called
    step = al.compile(al.func.value_and_grad(lambda t: al.sum(scale(t, factor=3.0) ** 2)))
    _, grad = step(x)
    assert seen == [((6,), 3.0)]
    assert "scale_specialized_forward(t, factor=3.0, square=False)" in step.source
    np.testing.assert_allclose(grad, 18.0 * x, rtol=1e-15)  # d/dx Σ (3x)² = 18x
    step(x + 1.0)
    assert len(seen) == 1  # a replay does not specialize again


def test_a_one_input_user_op_with_a_joint_vjp_compiles():
    """A VJP given as one function returning a 1-tuple (register_op's own example's form)."""
    softplus = al.register_op("softplus_joint", lambda x: np.logaddexp(0.0, x),
                              lambda g, out, x: (g * al.sigmoid(x),))
    x = np.linspace(-2.0, 2.0, 5)
    step = al.compile(al.func.grad(lambda t: al.sum(softplus(t) * 3.0)))
    np.testing.assert_allclose(step(x), 3.0 / (1.0 + np.exp(-x)), rtol=1e-15)
    assert np.array_equal(step(x), al.func.grad(lambda t: al.sum(softplus(t) * 3.0))(x))
    assert ", = softplus_joint_vjp(" in step.source  # (its one gradient, unpacked)


def test_a_non_scalar_loss_is_refused_by_compiled_grad_as_by_grad():
    with pytest.raises(al.ShapeError, match="single-element value"):
        al.compile(al.func.grad(lambda x: x * 2.0))(np.ones(3))
    with pytest.raises(al.ShapeError, match="single-element value"):
        al.func.grad(lambda x: x * 2.0)(np.ones(3))


def test_a_vjp_of_the_wrong_shape_is_named_as_the_tape_names_it():
    bad = al.register_op("bad_shape_vjp", lambda x: x * 2.0, [lambda g, out, x: np.ones(7)])
    x = np.ones(3)
    with pytest.raises(al.ShapeError, match=r"the VJP of op 'bad_shape_vjp'.*input 0.*shape"):
        al.func.grad(lambda t: al.sum(bad(t)))(x)
    with pytest.raises(al.ShapeError, match=r"the VJP of op 'bad_shape_vjp' for input 0"):
        al.compile(al.func.grad(lambda t: al.sum(bad(t))))(x)
