"""The verdicts' outcomes and diagnoses (issue 16): kinks, unreliable numeric references, tape
errors, promoted precision, scale invariance, true diagnoses, gradcheck by input name and dtype.
Every expected gradient here is a closed form; every wrong one a stated mistake."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite.checking import estimate_derivative, taylor_order
from autograd_lite.diagnosis import diagnose, name_factor
from autograd_lite.report import document, table
from autograd_lite.verify import Derivation, verify


def only_check(report):
    (check,) = report.checks
    return check


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ------------------------------------------------------------------------ numeric estimates
@pytest.mark.parametrize(("x", "f", "derivative"), [
    (1000.3, lambda x: np.tanh(x - 1000), lambda x: 1 - np.tanh(x - 1000) ** 2),
    (1e-3, lambda x: x * np.log(x), lambda x: np.log(x) + 1),
    (3e-9, lambda x: x * np.log(x), lambda x: np.log(x) + 1),  # the first step is past 0
    (0.7, lambda x: 1e13 * np.sin(x), lambda x: 1e13 * np.cos(x)),
])
def test_the_estimate_is_within_its_error_bar_and_the_bar_is_small(x, f, derivative) -> None:
    def evaluate(j, h):
        moved = x + h
        return float(f(moved)), moved - x

    with np.errstate(invalid="ignore"):  # the first step of x log x at 3e-9 is past 0
        value, error, *_ = estimate_derivative(evaluate, 0, x, float(f(x)), 2.2e-16, 2.2e-16)
    truth = derivative(x)
    assert abs(value - truth) <= error
    assert error <= 1e-5 * abs(truth)


def test_taylor_order_tells_a_right_slope_from_a_wrong_one() -> None:
    def evaluate(j, h):
        return float(np.exp(0.5 + h)), h

    f0 = float(np.exp(0.5))
    assert taylor_order(evaluate, 0, 0.5, f0, np.exp(0.5), 2.2e-16, 2.2e-16) > 1.8
    assert 0.8 < taylor_order(evaluate, 0, 0.5, f0, 1.01 * np.exp(0.5), 2.2e-16, 2.2e-16) < 1.2


# ---------------------------------------------------------------------------------- kinks
def test_relu_at_zero_is_a_kink_with_both_slopes_whichever_slope_the_formula_took() -> None:
    for formula, took in ((lambda x: (x > 0) * 1.0, 0.0), (lambda x: (x >= 0) * 1.0, 1.0)):
        check = only_check(verify(Derivation(
            name="relu", inputs={"x": np.array([0.0, -1.2, 2.0])},
            loss=lambda x: al.relu(x).sum(), gradients={"x": formula})))
        assert check.outcome == "kink" and check.passed
        (kink,) = check.kinks
        assert kink["index"] == [0] and kink["formula"] == took
        assert kink["left_slope"] == pytest.approx(0.0, abs=1e-6)
        assert kink["right_slope"] == pytest.approx(1.0, rel=1e-6)
        assert "left slope 0" in check.reason and "right slope 1" in check.reason


def test_a_formula_outside_the_slopes_at_a_kink_fails() -> None:
    check = only_check(verify(Derivation(
        name="relu", inputs={"x": np.array([0.0, -1.2, 2.0])},
        loss=lambda x: al.relu(x).sum(), gradients={"x": lambda x: (x >= 0) * 2.0})))
    assert check.outcome == "fail"


# --------------------------------------------------------------- the tape or the reference
def test_noisy_loss_makes_the_numeric_reference_unreliable_not_the_formula_wrong() -> None:
    """x² plus an oscillation far below float64's resolution, which behaves as noise of size
    1e-6: finite differences cannot settle, formula and tape agree (2x)."""
    noisy = al.register_op("noisy_square_under_test",
                           forward=lambda x: x * x + 1e-6 * np.sin(1e15 * x),
                           vjp=lambda g, out, x: (2 * x * g,))
    check = only_check(verify(Derivation(
        name="noisy", inputs={"x": np.array([0.3, -1.2])}, loss=lambda x: noisy(x).sum(),
        gradients={"x": lambda x: 2 * x})))
    assert check.outcome == "unreliable" and check.passed
    assert check.reason.startswith("numeric reference unreliable")
    assert check.diagnosis is None
    (checked,) = al.gradcheck(lambda x: noisy(x).sum(), np.array([0.3, -1.2])).inputs
    assert checked.outcome == "unreliable" and checked.passed
    assert "numeric reference is in doubt" in checked.detail


def test_a_wrong_vjp_repeated_by_the_formula_fails_as_a_tape_error() -> None:
    wrong = al.register_op("wrong_square_under_test", forward=lambda x: x * x,
                           vjp=lambda g, out, x: (3 * x * g,))
    inputs = {"x": np.array([0.3, -1.2])}
    check = only_check(verify(Derivation(name="repeats", inputs=inputs,
                                         loss=lambda x: wrong(x).sum(),
                                         gradients={"x": lambda x: 3 * x})))
    assert check.outcome == "fail" and check.diagnosis.kind == "tape"
    assert "formula agrees with the tape, but both disagree with the loss" in \
        check.diagnosis.message
    check = only_check(verify(Derivation(name="right formula", inputs=inputs,
                                         loss=lambda x: wrong(x).sum(),
                                         gradients={"x": lambda x: 2 * x})))
    assert check.diagnosis.kind == "tape" and "the formula looks right" in \
        check.diagnosis.message


# ---------------------------------------------------------------------- precision, scale
def test_low_precision_inputs_are_promoted_and_the_report_says_so() -> None:
    report = verify(Derivation(
        name="mixed", inputs={"x": np.array([0.5, -1.5], np.float32),
                              "unused": np.ones(2, np.float16)},
        loss=lambda x, unused: (x * x).sum(), gradients={"x": lambda x: 2 * x}))
    assert report.passed and report.promoted == {"x": "float32", "unused": "float16"}
    assert "promoted to float64 for the verdict: x (float32), unused (float16)" in \
        table([report], [])
    assert document([report], [])["derivations"][0]["promoted"] == report.promoted


@pytest.mark.parametrize("scale", [1e-13, 1.0, 1e13])
def test_scaling_the_loss_changes_no_verdict(scale) -> None:
    W = np.random.default_rng(4).standard_normal((3, 2))
    x = np.random.default_rng(5).standard_normal((4, 3))

    def formula(W, x, factor=1.0):
        return factor * scale * x.T @ (1 - np.tanh(x @ W) ** 2)

    outcomes = []
    for factor in (1.0, 1 + 1e-9, -1.0):
        report = verify(Derivation(name="scaled", inputs={"W": W, "x": x},
                                   loss=lambda W, x: al.tanh(x @ W).sum() * scale,
                                   gradients={"W": lambda W, x, f=factor: formula(W, x, f)}))
        outcomes.append(only_check(report).outcome)
    assert outcomes == ["pass", "fail", "fail"]


def test_cancellation_to_zero_is_round_off_not_an_error() -> None:
    """∂J/∂c = 0 for a softmax shift: the tape's value is a difference of O(1) terms."""
    report = verify(Derivation(
        name="shift", inputs={"x": np.array([0.3, -1.0, 2.0]), "w": np.array([1.0, 2.0, -1.0]),
                              "c": np.array(3.7)},
        loss=lambda x, w, c: (al.softmax(x + c) * w).sum(),
        gradients={"c": lambda c: np.zeros_like(c)}))
    assert report.passed
    report = verify(Derivation(
        name="shift wrong", inputs={"x": np.array([0.3, -1.0, 2.0]),
                                    "w": np.array([1.0, 2.0, -1.0]), "c": np.array(3.7)},
        loss=lambda x, w, c: (al.softmax(x + c) * w).sum(),
        gradients={"c": lambda c: np.full_like(c, 1e-9)}))
    assert not report.passed


# ----------------------------------------------------------------------------- diagnoses
def test_length_one_axes_are_shapes_not_batches() -> None:
    column = diagnose(np.array([[1.0], [2.0], [3.0]]), np.array([1.0, 2.0, 3.0]), "b")
    assert column.kind == "shape" and "(3, 1)" in column.message and "(3,)" in column.message
    assert "a column" in column.message and "values are right" in column.message
    scalar = diagnose(np.array([2.5]), np.array(2.5), "c")
    assert scalar.kind == "shape" and "a scalar is meant" in scalar.message
    batch = diagnose(np.ones((4, 3)), np.full(3, 4.0), "b")
    assert batch.kind == "batch_sum"


@pytest.mark.parametrize(("factor", "batch", "expected"), [
    (2.0, None, "2"), (0.5, None, "1/2"), (3.0, None, "3"), (2 / 3, None, "2/3"),
    (np.sqrt(8), None, "√8"), (1 / np.sqrt(64.5 * 2), None, "1/√129"),
    (20 / 19, 20, "N/(N − 1) = 20/19"), (19 / 20, 20, "(N − 1)/N = 19/20"),
    (20.0, 20, "N = 20"), (1 / 20, 20, "1/N = 1/20"), (-2.0, None, "-2"),
])
def test_factors_people_make_are_named(factor, batch, expected) -> None:
    named, _ = name_factor(factor, batch)
    assert named.startswith(expected)
    truth = np.array([[1.0, -2.0], [0.5, 3.0]])
    diagnosis = diagnose(truth * factor, truth, "W", batch)
    assert diagnosis.kind == "scale" and expected in diagnosis.message


def test_a_sign_flipped_on_some_elements_names_them() -> None:
    z = np.array([0.3, -2.0, 1.5, 0.1, -0.7])
    truth = sigmoid(z) * (1 - sigmoid(z))
    formula = truth * np.array([1, -1, 1, 1, -1])
    check = only_check(verify(Derivation(name="partial", inputs={"z": z},
                                         loss=lambda z: al.sigmoid(z).sum(),
                                         gradients={"z": lambda z: formula})))
    assert check.diagnosis.kind == "sign"
    assert check.diagnosis.elements == [[1], [4]]
    assert "2 of 5 elements: (1,), (4,)" in check.diagnosis.message


def test_the_sigmoid_hint_only_where_it_fits() -> None:
    z = np.array([0.3, -2.0, 1.5, 0.5])
    confused = only_check(verify(Derivation(
        name="σ(1 − z)", inputs={"z": z}, loss=lambda z: al.sigmoid(z).sum(),
        gradients={"z": lambda z: sigmoid(z) * sigmoid(1 - z)}))).diagnosis
    assert confused.kind == "unknown" and "σ(1 − z)" in confused.message
    other = only_check(verify(Derivation(
        name="other", inputs={"z": z}, loss=lambda z: al.sigmoid(z).sum(),
        gradients={"z": lambda z: sigmoid(z) * (1 - sigmoid(z)) + z ** 3 / 10}))).diagnosis
    assert other.kind == "unknown" and "σ(1 − z)" not in other.message
    assert "differs at 4 of 4 elements" in other.message and "relative difference" in \
        other.message


def test_claims_are_worded_as_claims() -> None:
    report = verify(Derivation(name="claims", inputs={"x": np.array([1.0, 2.0])},
                               loss=lambda x: x.sum(),
                               claims={"twice": lambda x: (x * 2, x * 3)}))
    message = only_check(report).diagnosis.message
    assert message.startswith("the claim 'twice' does not hold:")
    assert "∂J/∂" not in message and "lhs ÷ rhs = 2/3" in message


def test_unknown_points_at_the_first_wrong_step() -> None:
    W = np.random.default_rng(1).standard_normal((3, 2))
    x = np.random.default_rng(2).standard_normal((4, 3))

    def loss(W, x):
        z = x @ W
        z.name = "z"
        return al.tanh(z).sum()

    report = verify(Derivation(
        name="steps", inputs={"W": W, "x": x}, loss=loss,
        steps={"z": lambda W, x: 1 - np.tanh(x @ W) ** 3},
        gradients={"W": lambda W, x: x.T @ (1 - np.tanh(x @ W) ** 3)}))
    assert report.first_wrong_step == "z"
    gradient = next(c for c in report.checks if c.target == "W")
    assert "The first wrong step of the chain is 'z'." in gradient.diagnosis.message


# ----------------------------------------------------------------------------- gradcheck
def test_gradcheck_judges_each_input_by_its_own_dtype_and_names_it() -> None:
    wrong = al.register_op("wrong_by_half_under_test", forward=lambda x: x * x,
                           vjp=lambda g, out, x: (3 * x * g,))  # 1.5 × 2x
    x = np.random.default_rng(0).standard_normal(4)
    half = np.ones(3, np.float16)
    with pytest.warns(al.GradcheckWarning, match="scale"):
        report = al.gradcheck(lambda weights, scale: wrong(weights).sum() + scale.sum(), x,
                              half)
    assert not report
    assert [c.name for c in report.failures] == ["weights"]
    assert "weights (4,) float64: FAIL" in str(report)
    names = [c.name for c in al.gradcheck(lambda a, b: (a * b).sum(), x, x).inputs]
    assert names == ["a", "b"]


def test_gradcheck_is_scale_invariant_and_reports_kinks() -> None:
    x = np.random.default_rng(3).standard_normal(5)
    for scale in (1e-13, 1e13):
        assert al.gradcheck(lambda t, scale=scale: al.tanh(t).sum() * scale, x)
    report = al.gradcheck(lambda t: al.relu(t).sum(), np.array([0.0, 1.0]))
    assert report.passed and report.inputs[0].outcome == "kink"
    assert report.inputs[0].kinks == [(0,)]


def test_gradcheck_gives_every_evaluation_its_own_inputs() -> None:
    def mutating(x, s):
        s.data += 1.0
        return (s * x * x).sum()

    assert al.gradcheck(mutating, np.array([0.5, -1.0]), np.array([2.0, 3.0]))


# ------------------------------------------------------------------ graph leaves, reports
def test_data_inputs_without_a_gradient_formula_are_constants_of_the_graph() -> None:
    seen = []

    def loss(X, W, y):
        seen.append({"X": X.requires_grad, "W": W.requires_grad, "y": y.requires_grad})
        return -(y * al.log_softmax(X @ W, axis=1)).sum()

    rng = np.random.default_rng(0)
    X, W, y = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), np.eye(2)[[0, 1, 1, 0]]

    def softmax(t):
        e = np.exp(t - t.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    report = verify(Derivation(name="data", inputs={"X": X, "W": W, "y": y}, loss=loss,
                               gradients={"W": lambda X, W, y: X.T @ (softmax(X @ W) - y)}))
    assert report.passed
    assert seen[0] == {"X": False, "W": True, "y": False}  # the tape run
    assert report.loss.requires_grad


def test_markdown_report_shows_the_new_outcomes(tmp_path) -> None:
    from autograd_lite.report import write_markdown

    kink = verify(Derivation(name="relu kink", inputs={"x": np.array([0.0, 2.0])},
                             loss=lambda x: al.relu(x).sum(), gradients={"x": lambda x: x > 0}))
    promoted = verify(Derivation(name="float32", inputs={"x": np.ones(2, np.float32)},
                                 loss=lambda x: (x * x).sum(), gradients={"x": lambda x: 2 * x}))
    text = write_markdown([kink, promoted], [], tmp_path).read_text()
    assert "| x | gradient |" in text and "| KINK |" in text
    assert "left slope 0" in text and "promoted to float64 for the verdict: x (float32)" in text
    assert "2 derivations, 2 checks: 1 passed, 1 at a kink, 0 failed" in text


def test_non_finite_and_empty_formulas_are_named() -> None:
    check = only_check(verify(Derivation(
        name="nan", inputs={"y": np.ones(2)}, loss=lambda y: (y * y).sum(),
        gradients={"y": lambda y: 2 * y + np.array([np.nan, 0.0])})))
    assert check.outcome == "fail"
    assert "the formula is NaN at 1 of 2 elements ((0,))" in check.diagnosis.message
    report = verify(Derivation(
        name="empty", inputs={"x": np.zeros((0, 3)), "y": np.ones(2)},
        loss=lambda x, y: x.sum() + (y * y).sum(),
        gradients={"x": lambda x: np.zeros((0, 3)), "y": lambda y: 2 * y}))
    assert report.passed
    wrong = only_check(verify(Derivation(
        name="empty", inputs={"x": np.zeros((0, 3))}, loss=lambda x: x.sum(),
        gradients={"x": lambda x: np.zeros((3, 0))})))
    assert wrong.diagnosis.kind == "shape" and "(3, 0)" in wrong.diagnosis.message


def test_a_gradient_that_is_exactly_zero_passes_and_a_small_wrong_one_fails() -> None:
    """J = Σ softmax(θ) = N for every θ: ∂J/∂θ = 0 exactly, the tape's value is round-off of
    terms that cancel (a few 1e-17). The right formula (zeros) must pass on every seed; before
    the loss's resolution floor it failed on 13 seeds of 20. A formula off by 1e-6 (far above
    u·|J|/|θ| ≈ 1e-16·N) must still fail, and a scaled loss changes neither verdict."""
    def derivation(formula, seed, scale=1.0):
        return Derivation(name="sum of softmax",
                          inputs=lambda rng: {"theta": rng.standard_normal((4, 3)) * 3},
                          loss=lambda theta: scale * al.softmax(theta).sum(),
                          gradients={"theta": formula}, seed=seed)

    for seed in range(20):
        for scale in (1e-13, 1.0, 1e13):
            assert verify(derivation(lambda theta: np.zeros_like(theta), seed, scale)).passed
            wrong = verify(derivation(lambda theta, s=scale: np.full_like(theta, 1e-6 * s),
                                      seed, scale))
            assert not wrong.passed, (seed, scale)


def test_a_factor_next_to_one_is_shown_with_the_digits_that_differ() -> None:
    """A 1.0000001× formula is diagnosed with that factor, not rounded to '= 1'."""
    from autograd_lite.diagnosis import diagnose

    truth = np.random.default_rng(0).uniform(1, 2, (3, 4))
    message = diagnose(truth * 1.0000001, truth, "W").message
    assert "1.0000001" in message and "= 1 " not in message
