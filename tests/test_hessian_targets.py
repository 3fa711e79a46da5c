"""Second-order targets of a Derivation (``hessians`` and ``hvps``): right formulas pass three
ways (formula, the tape's Hessian, finite differences of the tape's gradient); planted wrong
ones fail with the right diagnosis (sign, factor, index pairs transposed, a formula that is not
symmetric, a wrong Hessian-vector product, a wrong shape); a kink of the gradient is handled as
for gradients; a registered op whose VJP is right but records nothing is blamed on the tape; the
two shipped second-order derivations pass; the reports show the new kinds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite.html_report import derivation_html
from autograd_lite.report import document, table, write_markdown
from autograd_lite.tensor import raw
from autograd_lite.verify import Derivation, DerivationError, load_file, verify

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = [ROOT / "derivations" / "sigmoid_second_derivative.py",
             ROOT / "derivations" / "softmax_cross_entropy_hessian.py"]

rng = np.random.default_rng(19)
A = rng.standard_normal((4, 4))  # not symmetric: the Hessian of x A xᵀ is A + Aᵀ, not 2A
X = {"x": rng.standard_normal(4)}
M = rng.standard_normal((3, 3))
W0 = {"W": rng.standard_normal((3, 3))}


def quadratic(x):
    """J = x A xᵀ for a row x."""
    return ((x @ al.Tensor(A)) * x).sum()


def matrix_loss(W):
    """J = Σ M ∘ W ∘ W + Σ_ij (W W)_ij: a Hessian that mixes the entries of W."""
    return (al.Tensor(M) * W * W).sum() + (W @ W).sum()


def matrix_hessian(W: np.ndarray) -> np.ndarray:
    """∂²J/∂W_ab ∂W_cd = 2 M_ab δ_ac δ_bd + δ_bc + δ_da (from Σ_ijk W_ij W_jk), worked by hand."""
    n = W.shape[0]
    eye = np.eye(n)
    H = 2 * np.einsum("ab,ac,bd->abcd", M, eye, eye)
    # ∂J/∂W_ab = 2 M_ab W_ab + Σ_k W_bk + Σ_i W_ia: the row sum of b, the column sum of a
    H += np.einsum("bc,ad->abcd", eye, np.ones((n, n)))  # Σ_k W_bk: δ_bc
    H += np.einsum("da,bc->abcd", eye, np.ones((n, n)))  # Σ_i W_ia: δ_ad
    return H


def check_of(kind: str, **targets) -> object:
    """The single check of a derivation of the quadratic with one second-order target."""
    report = verify(Derivation(name="quadratic", inputs=X, loss=quadratic, **targets))
    assert report.error is None, report.error
    (check,) = [c for c in report.checks if c.kind == kind]
    return check


# ------------------------------------------------------------------------- right formulas
def test_right_hessian_and_hvp_pass_three_ways() -> None:
    report = verify(Derivation(name="quadratic", inputs=X, loss=quadratic,
                               gradients={"x": lambda x: x @ (A + A.T)},
                               hessians={"x": lambda: A + A.T},
                               hvps={"x": lambda v: v @ (A + A.T)}))
    assert report.passed and [c.kind for c in report.checks] == ["gradient", "hessian", "hvp"]
    for check in report.checks:
        assert check.outcome == "pass"
        assert check.tape_vs_formula <= 1 and check.tape_vs_numeric <= 1
        assert check.formula_vs_numeric <= 1


def test_the_hand_worked_hessian_of_a_matrix_variable_passes() -> None:
    hessian = matrix_hessian(W0["W"])
    # independent of the verifier: central differences of the hand-derived gradient
    def gradient(W):
        return 2 * M * W + np.ones((3, 3)) @ W.T + W.T @ np.ones((3, 3))
    h, W = 1e-5, W0["W"]
    for a, b in [(0, 0), (1, 2), (2, 1)]:
        E = np.zeros((3, 3))
        E[a, b] = h
        np.testing.assert_allclose((gradient(W + E) - gradient(W - E)) / (2 * h),
                                   hessian[:, :, a, b], atol=1e-8)
    report = verify(Derivation(name="matrix", inputs=W0, loss=matrix_loss,
                               hessians={"W": lambda W: matrix_hessian(W)},
                               hvps={"W": lambda W, v: np.einsum("abcd,cd->ab",
                                                                  matrix_hessian(W), v)}))
    assert report.passed, table([report], [])


# ---------------------------------------------------------------------- planted mistakes
def test_a_flipped_sign_is_diagnosed() -> None:
    check = check_of("hessian", hessians={"x": lambda: -(A + A.T)})
    assert check.outcome == "fail" and check.diagnosis.kind == "sign"
    assert check.diagnosis.message.startswith("∂²J/∂x²: wrong sign")


def test_a_factor_two_is_diagnosed() -> None:
    check = check_of("hessian", hessians={"x": lambda: 2 * (A + A.T)})
    assert check.outcome == "fail" and check.diagnosis.kind == "scale"
    assert check.diagnosis.factor == pytest.approx(2.0)


def test_a_non_symmetric_formula_whose_symmetric_part_is_right() -> None:
    """2A for A + Aᵀ: a Hessian is symmetric; the missing transposed term is named."""
    check = check_of("hessian", hessians={"x": lambda: 2 * A})
    assert check.outcome == "fail" and check.diagnosis.kind == "transpose"
    assert "not symmetric" in check.diagnosis.message
    assert "(F + Fᵀ)/2 is the Hessian" in check.diagnosis.message


def test_a_non_symmetric_formula_that_is_wrong_otherwise_says_both() -> None:
    check = check_of("hessian", hessians={"x": lambda: A + 2 * A.T})
    assert check.outcome == "fail" and check.diagnosis.kind == "unknown"
    assert "not symmetric either" in check.diagnosis.message


@pytest.mark.parametrize(("axes", "said"), [((1, 0, 3, 2), "with respect to Wᵀ"),
                                            ((0, 1, 3, 2), "second index pair transposed"),
                                            ((1, 0, 2, 3), "first index pair transposed")])
def test_transposed_index_pairs_of_a_matrix_variable(axes, said) -> None:
    hessian = matrix_hessian(W0["W"])
    assert not np.allclose(hessian.transpose(axes), hessian)  # the plant really differs
    report = verify(Derivation(name="matrix", inputs=W0, loss=matrix_loss,
                               hessians={"W": lambda: hessian.transpose(axes)}))
    (check,) = report.checks
    assert check.outcome == "fail" and check.diagnosis.kind == "transpose"
    assert said in check.diagnosis.message


def test_a_hessian_in_the_flattened_shape_is_a_shape_mistake() -> None:
    hessian = matrix_hessian(W0["W"])
    report = verify(Derivation(name="matrix", inputs=W0, loss=matrix_loss,
                               hessians={"W": lambda: hessian.reshape(9, 9)}))
    (check,) = report.checks
    assert check.outcome == "fail" and check.diagnosis.kind == "shape"
    assert "reshape it" in check.diagnosis.message and "(3, 3, 3, 3)" in check.diagnosis.message


def test_wrong_hvps_fail() -> None:
    flipped = check_of("hvp", hvps={"x": lambda v: -v @ (A + A.T)})
    assert flipped.outcome == "fail" and flipped.diagnosis.kind == "sign"
    assert flipped.diagnosis.message.startswith("(∇²_x J)·v: wrong sign")
    half = check_of("hvp", hvps={"x": lambda v: 2 * A @ v})  # Hᵀ-style slip: 2A v
    assert half.outcome == "fail" and half.diagnosis is not None
    ignoring_v = check_of("hvp", hvps={"x": lambda: np.ones(4) @ (A + A.T)})  # not along v
    assert ignoring_v.outcome == "fail"


def test_an_hvp_off_by_the_batch_size_names_it() -> None:
    theta = rng.standard_normal((6, 3))
    y = np.eye(3)[rng.integers(0, 3, 6)]

    def mean_ce(theta, y):
        return -(y * al.log_softmax(theta)).sum() / 6

    def summed_hvp(theta, v):  # the hvp of the sum: the 1/N of the mean forgotten
        e = np.exp(theta - theta.max(axis=1, keepdims=True))
        P = e / e.sum(axis=1, keepdims=True)
        return P * v - P * (P * v).sum(axis=1, keepdims=True)

    report = verify(Derivation(name="mean", inputs={"theta": theta, "y": y}, loss=mean_ce,
                               hvps={"theta": summed_hvp}, batch=6))
    (check,) = report.checks
    assert check.diagnosis.kind == "scale" and "batch size" in check.diagnosis.message


# ---------------------------------------------------------------------------------- kinks
def relu_square(z):
    """J = ½ Σ relu(z)²: the gradient relu(z) has a kink at 0, the Hessian diag(z > 0)."""
    return (al.relu(z) ** 2).sum() * 0.5


KINKED = {"z": np.array([0.0, 1.5, -0.7, 2.0])}


@pytest.mark.parametrize("side", [np.greater, np.greater_equal])
def test_a_kink_of_the_gradient_is_a_kink_either_slope_taken(side) -> None:
    report = verify(Derivation(name="kink", inputs=KINKED, loss=relu_square,
                               hessians={"z": lambda z: np.diag(side(z, 0) * 1.0)},
                               hvps={"z": lambda z, v: side(z, 0) * v}))
    assert report.passed
    for check in report.checks:
        assert check.outcome == "kink"
        assert [k["index"] for k in check.kinks] in ([[0, 0]], [[0]])
        (kink,) = check.kinks
        assert 0.0 in (kink["left_slope"], kink["right_slope"])  # relu's flat side
        assert kink["left_slope"] != kink["right_slope"]


def test_a_kink_does_not_excuse_a_wrong_element_elsewhere() -> None:
    report = verify(Derivation(name="kink", inputs=KINKED, loss=relu_square,
                               hessians={"z": lambda z: np.diag((z > 0) * 1.0 + (z < 0))}))
    (check,) = report.checks
    assert check.outcome == "fail" and check.worst_index == [2, 2]


# -------------------------------------------------------------------------- the tape blamed
def _cube_vjp_constant(g, out, x):  # right values, but raw arrays: its own derivative is lost
    return g * (3.0 * raw(x) ** 2)


CUBE = al.register_op("cube_constant_vjp", lambda x: x ** 3, (_cube_vjp_constant,),
                      jvp=(lambda t, out, x: t * 3.0 * x * x,))


def test_a_vjp_that_records_nothing_is_blamed_on_the_tape() -> None:
    z = rng.standard_normal(3) + 1.5
    report = verify(Derivation(name="cube", inputs={"z": z}, loss=lambda z: CUBE(z).sum(),
                               gradients={"z": lambda z: 3 * z ** 2},
                               hessians={"z": lambda z: np.diag(6 * z)}))
    gradient, hessian = report.checks
    assert gradient.outcome == "pass"  # the VJP's values are right
    assert hessian.outcome == "fail" and hessian.diagnosis.kind == "tape"
    assert "check_grads" in hessian.diagnosis.message


# ----------------------------------------------------------------------------- the contract
def test_contract_errors_name_the_problem() -> None:
    with pytest.raises(DerivationError, match="hessians\\['w'\\] is not a function"):
        Derivation(name="d", inputs=X, loss=quadratic, hessians={"w": 3})
    report = verify(Derivation(name="d", inputs=X, loss=quadratic, hessians={"w": lambda: 0}))
    assert "hessians['w'] names no input" in report.error
    report = verify(Derivation(name="d", inputs={"x": X["x"], "v": X["x"]},
                               loss=lambda x, v: quadratic(x), hvps={"x": lambda v: v}))
    assert "named 'v'" in report.error
    report = verify(Derivation(name="d", inputs={"x": np.arange(4)}, loss=quadratic,
                               hessians={"x": lambda: A}))
    assert "only floating inputs have hessians" in report.error
    report = verify(Derivation(name="d", inputs=X, loss=quadratic,
                               hessians={"x": lambda: 1 / 0}))
    assert "hessians['x'] raised ZeroDivisionError" in report.error


def test_an_op_without_a_jvp_rule_is_an_error_naming_it() -> None:
    square = al.register_op("square_without_jvp", lambda x: x * x, (lambda g, out, x: 2 * g * x,))
    report = verify(Derivation(name="d", inputs={"z": np.ones(3)},
                               loss=lambda z: square(z).sum(),
                               hessians={"z": lambda: 2 * np.eye(3)}))
    assert report.error.startswith("Derivation 'd': hessians['z']: the tape cannot "
                                   "differentiate the loss twice")
    assert "'square_without_jvp' has no JVP rule" in report.error


def test_float32_inputs_are_promoted_for_the_verdict() -> None:
    report = verify(Derivation(name="f32", inputs={"x": X["x"].astype(np.float32)},
                               loss=quadratic, hessians={"x": lambda: A + A.T}))
    assert report.passed and report.promoted == {"x": "float32"}


# -------------------------------------------------------------------------------- reports
def test_the_reports_show_the_new_kinds(tmp_path: Path) -> None:
    report = verify(Derivation(name="quadratic", inputs=X, loss=quadratic,
                               hessians={"x": lambda: 2 * A}, hvps={"x": lambda v: v @ (A + A.T)}))
    data = json.loads(json.dumps(document([report], [])))
    kinds = [c["kind"] for c in data["derivations"][0]["checks"]]
    assert kinds == ["hessian", "hvp"]
    hessian = data["derivations"][0]["checks"][0]
    assert hessian["outcome"] == "fail" and len(hessian["worst"]["index"]) == 2
    assert hessian["diagnosis"]["kind"] == "transpose"
    text = table([report], [])
    assert "  x" in text and " hessian " in text and " hvp " in text
    assert "[transpose] ∂²J/∂x²" in text and "numeric = the same step sweep on the tape's " \
        "gradient" in text
    assert "step sweep on the tape's gradient" not in table([verify(Derivation(
        name="first order", inputs=X, loss=quadratic, gradients={"x": lambda x: x @ (A + A.T)}
    ))], [])
    markdown = write_markdown([report], [], tmp_path).read_text(encoding="utf-8")
    assert "| x | hessian |" in markdown and "| x | hvp |" in markdown
    assert "Hessian / hvp: tape = forward-over-reverse" in markdown
    page = derivation_html(report)
    assert "<td>hessian</td>" in page and "<td>hvp</td>" in page
    assert "Hessian / hvp: tape = forward-over-reverse" in page
    assert "[transpose]</span> ∂²J/∂x²: the formula is not symmetric" in page


# ------------------------------------------------------------------------------ catalogue
@pytest.mark.parametrize("path", CATALOGUE, ids=lambda p: p.name)
def test_the_shipped_second_order_derivations_pass(path: Path) -> None:
    derivations = load_file(path)
    kinds = set()
    for derivation in derivations:
        report = verify(derivation)
        assert report.passed, table([report], [])
        kinds |= {c.kind for c in report.checks}
    assert {"hessian", "hvp"} <= kinds


def test_the_catalogue_catches_the_planted_slip() -> None:
    """σ(1 − σ)² for σ'' (differentiating only one factor) fails the sigmoid derivation."""
    (right, _) = load_file(CATALOGUE[0])

    def slip(z, u):
        s = 1 / (1 + np.exp(-z))
        return np.diag(u * s * (1 - s) ** 2)

    wrong = Derivation(name="slip", inputs=right.inputs, loss=right.loss,
                       hessians={"z": slip})
    (check,) = verify(wrong).checks
    assert check.outcome == "fail" and check.kind == "hessian"
