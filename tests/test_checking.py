"""gradcheck, numerical_grad and user-registered ops: the checker passes right rules and catches
wrong ones at the right element."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_matches_fd

import autograd_lite as al
from autograd_lite import checking
from autograd_lite.checking import _contract, _expand, _rank_one_direction

rng = np.random.default_rng(2)


def net_loss(X, W1, b1, W2, b2, labels):
    h = al.sigmoid(X @ W1 + b1)
    return al.softmax_cross_entropy(h @ W2 + b2, labels, reduction="sum")


def net_inputs(n=20, dx=10, h=5, dy=10):
    return [rng.standard_normal((n, dx)), rng.standard_normal((dx, h)), rng.standard_normal(h),
            rng.standard_normal((h, dy)), rng.standard_normal(dy), rng.integers(0, dy, n)]


def test_numerical_grad_matches_closed_form() -> None:
    x = rng.standard_normal(5)
    (g,) = al.numerical_grad(lambda t: (t ** 3).sum(), x, eps=1e-5)
    np.testing.assert_allclose(g, 3 * x ** 2, rtol=1e-8)


def test_gradcheck_passes_on_the_net_and_reports_settings() -> None:
    report = al.gradcheck(lambda *a: net_loss(*a), *net_inputs())
    assert report and report.passed
    assert report.settings["convention"] == "estimated"
    assert len(report.inputs) == 5  # the integer labels are not checked
    assert "passed" in str(report)
    pytorch = al.gradcheck(lambda *a: net_loss(*a), *net_inputs(), convention="pytorch")
    assert pytorch.passed
    assert pytorch.settings["eps"] == 1e-6 and pytorch.settings["atol"] == 1e-5


def test_gradcheck_cs224n_convention() -> None:
    report = al.gradcheck(lambda *a: net_loss(*a), *net_inputs(), convention="cs224n")
    assert report.passed
    assert report.settings["eps"] == 1e-4 and report.settings["threshold"] == 1e-5


def _square_op(vjp):
    return al.register_op("square_under_test", forward=lambda x: x * x, vjp=vjp)


def test_custom_op_works_everywhere() -> None:
    softplus = al.register_op("softplus_under_test", forward=lambda x: np.logaddexp(0.0, x),
                              vjp=lambda g, out, x: (g * al.sigmoid(x),))
    assert "softplus_under_test" in al.list_ops()
    x0 = rng.standard_normal(4)
    assert_matches_fd(lambda x: softplus(x) * 2, [x0])
    assert al.gradcheck(lambda x: softplus(x).sum(), x0)
    # second order: d²/dx² softplus = σ(x)(1 − σ(x))
    x = al.Tensor(x0, requires_grad=True)
    (g,) = al.grad(softplus(x).sum(), x, create_graph=True)
    g.sum().backward()
    s = 1 / (1 + np.exp(-x0))
    np.testing.assert_allclose(x.grad, s * (1 - s), rtol=1e-12)


def test_checker_catches_a_wrong_rule_at_the_right_element() -> None:
    wrong = _square_op(lambda g, out, x: (3 * x * g,))  # should be 2·x·g
    x0 = np.array([0.1, -0.2, 5.0, 0.3])
    report = al.gradcheck(lambda x: wrong(x).sum(), x0)
    assert not report
    (check,) = report.failures
    assert check.worst_index == (2,)  # the element with the largest error, 5.0
    assert check.analytic == pytest.approx(15.0) and check.numeric == pytest.approx(10.0)
    with pytest.raises(AssertionError, match="FAIL"):
        al.gradcheck(lambda x: wrong(x).sum(), x0, raise_exception=True)


def test_fast_mode_catches_a_wrong_rule_and_names_the_input() -> None:
    wrong = _square_op(lambda g, out, x: (3 * x * g,))
    a, b = rng.standard_normal(50), rng.standard_normal(50)
    report = al.gradcheck(lambda a, b: (wrong(a) + b * b).sum(), a, b, fast_mode=True)
    assert not report
    assert [c.position for c in report.failures] == [0]
    located = report.locate()
    assert not located and located.failures[0].worst_index is not None


@pytest.mark.parametrize("shape", [(), (7,), (5, 6), (3, 4, 2), (4, 0)])
def test_rank_one_directions_agree_with_the_dense_direction(shape) -> None:
    """The factored inner product and step equal the ones computed from u formed in full."""
    factors = _rank_one_direction(shape, np.random.default_rng(3))
    assert all(np.all((np.abs(a) >= 0.5) & (np.abs(a) < 1.0)) for a in factors)
    dense = np.ones(())
    for a in factors:
        dense = np.multiply.outer(dense, a)
    assert dense.shape == shape
    G = rng.standard_normal(shape)
    np.testing.assert_allclose(_contract(G, factors), np.sum(G * dense), rtol=1e-12,
                               atol=1e-15)
    np.testing.assert_allclose(_expand(factors, 0.5), 0.5 * dense, rtol=1e-15)


def test_fast_mode_catches_one_wrong_element_of_a_matrix_gradient() -> None:
    """A rank-one direction still sees an error confined to a single element: that entry of
    u is at least 1/4 in size, so the error moves ⟨∇f, u⟩/‖u‖ by at least 2/(4·√72) ≈ 0.06,
    more than the tolerance 1e-5 + 1e-3·|⟨∇f, u⟩|/‖u‖ ≤ 1e-5 + 1e-3·‖∇f‖ here."""
    def wrong_vjp(g, out, x):
        grad = 2 * x * g
        grad[3, 4] += 2.0  # one wrong entry
        return (grad,)

    wrong = al.register_op("square_one_wrong", forward=lambda x: x * x, vjp=wrong_vjp)
    right = rng.standard_normal(6)
    for seed in range(5):  # each seed draws another direction (f is handed an rng it ignores)
        report = al.gradcheck(lambda a, b, rng: wrong(a).sum() + (b * b).sum(),
                              rng.standard_normal((8, 9)), right, fast_mode=True, seed=seed)
        assert not report
        assert [c.position for c in report.failures] == [0]
        assert report.locate().failures[0].worst_index == (3, 4)


def test_fast_mode_over_inputs_of_every_rank_and_dtype() -> None:
    """A scalar, a 3-D float32 array and an empty array in one check: f always sees each input
    in its own dtype, a right gradient passes and a wrong one is caught and named."""
    seen = set()

    def f(s, cube, empty):
        seen.add((s.dtype, cube.dtype, empty.shape))
        return (s * s * al.tanh(cube)).sum() + empty.sum()

    inputs = (np.float64(0.7), rng.standard_normal((3, 4, 2)).astype(np.float32),
              np.zeros((0, 3)))
    with pytest.warns(al.GradcheckWarning):
        assert al.gradcheck(f, *inputs, fast_mode=True)
    assert seen == {(np.dtype(np.float64), np.dtype(np.float32), (0, 3))}
    wrong = _square_op(lambda g, out, x: (2 * x * g + 1,))
    with pytest.warns(al.GradcheckWarning):
        report = al.gradcheck(lambda s, cube, empty: (s * wrong(cube)).sum(), *inputs,
                              fast_mode=True)
    assert [c.position for c in report.failures] == [1]


def test_fast_mode_checks_200k_elements() -> None:
    """(Its speed is measured in bench/, never asserted here.)"""
    x0 = rng.standard_normal(200_704)
    report = al.gradcheck(lambda x: (al.tanh(x) * x).sum(), x0, fast_mode=True)
    assert report.passed


def test_sampling_losses_see_the_same_draws() -> None:
    U = rng.standard_normal((10, 3))

    def loss(v, rng):
        rows = rng.integers(0, 10, size=4)
        return al.log(al.sigmoid(al.Tensor(U[rows]) @ v)).sum()

    assert al.gradcheck(loss, rng.standard_normal(3), seed=7)
    (g,) = al.numerical_grad(loss, np.ones(3), seed=7)
    assert np.all(np.isfinite(g))


def test_float32_warns_and_uses_derived_tolerances() -> None:
    x = rng.standard_normal(6).astype(np.float32)
    with pytest.warns(al.GradcheckWarning, match="below float64"):
        report = al.gradcheck(lambda t: (al.tanh(t) * t).sum(), x)
    assert report.passed and report.inputs[0].dtype == "float32"
    with pytest.warns(al.GradcheckWarning):
        report = al.gradcheck(lambda t: (al.tanh(t) * t).sum(), x, convention="pytorch")
    expected = al.checking.derived_settings(np.float32)
    assert report.settings["eps"] == pytest.approx(expected["eps"])
    assert report.settings["atol"] == pytest.approx(expected["atol"])


def test_non_scalar_output_is_checked_through_a_random_cotangent() -> None:
    assert al.gradcheck(lambda x: al.softmax(x), rng.standard_normal((3, 4)))
    wrong = _square_op(lambda g, out, x: (g * x,))
    assert not al.gradcheck(lambda x: wrong(x), rng.standard_normal((3, 4)))


def test_register_op_refuses_builtin_names_and_bad_vjps() -> None:
    with pytest.raises(al.RegistryError, match="built-in"):
        al.register_op("add", np.add, lambda g, out, x, y: (g, g))
    bad = al.register_op("bad_vjp_under_test", lambda x: x * 2, lambda g, out, x: g * 2)
    x = al.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(al.RegistryError, match="one gradient per input"):
        bad(x).sum().backward()


def _net(X, W1, b1, W2, b2, labels):
    return al.softmax_cross_entropy(al.sigmoid(X @ W1 + b1) @ W2 + b2, labels)


def _net_inputs():
    rng = np.random.default_rng(4)
    return (rng.standard_normal((20, 10)), rng.standard_normal((10, 5)) * 0.3,
            rng.standard_normal(5) * 0.1, rng.standard_normal((5, 10)) * 0.3,
            rng.standard_normal(10) * 0.1, rng.integers(0, 10, 20))


@pytest.mark.parametrize("convention", ["estimated", "pytorch"])
def test_finite_differences_run_compiled_with_the_eager_numbers(monkeypatch, convention):
    """With many evaluations, f runs compiled: it is called a handful of times instead of once
    per evaluation, and every number of the report is the eager one (the same NumPy calls)."""
    calls = [0]

    def counted(*args):
        calls[0] += 1
        return _net(*args)

    inputs = _net_inputs()
    compiled = al.gradcheck(counted, *inputs, convention=convention)
    compiled_calls = calls[0]
    monkeypatch.setattr(checking, "COMPILE_FROM", 10**9)
    calls[0] = 0
    eager = al.gradcheck(counted, *inputs, convention=convention)
    assert compiled.passed and eager.passed
    assert compiled_calls <= 4 < 4 * 115 <= calls[0]
    for a, b in zip(compiled.inputs, eager.inputs, strict=True):
        assert (a.max_abs_error, a.numeric, a.score) == (b.max_abs_error, b.numeric, b.score)


def test_a_function_that_cannot_be_traced_is_checked_as_it_is():
    """A Python branch on a value keeps the eager evaluations (one call of f each)."""
    calls = [0]

    def branching(x):
        calls[0] += 1
        return al.sum(x * x) if float(al.sum(x).item()) > -1e9 else al.sum(x)

    x = np.random.default_rng(0).standard_normal(100)
    assert al.gradcheck(branching, x).passed and calls[0] > 400


def test_a_wrong_gradient_fails_when_the_differences_run_compiled():
    twice = al.register_op("twice_with_wrong_grad", lambda t: 2.0 * t, [lambda g, out, t: g])
    x = np.random.default_rng(1).standard_normal(100)
    report = al.gradcheck(lambda t: al.sum(al.tanh(twice(t))), x)
    assert not report.passed
    np.testing.assert_allclose(report.inputs[0].numeric, 2 * report.inputs[0].analytic,
                               rtol=1e-6)
