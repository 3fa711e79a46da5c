"""The verifier: the shipped catalogue passes; each kind of mistake is caught and named; a wrong
middle step is pinpointed; the CLI's exit codes, JSON schema and broken-file handling."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite.cli import main
from autograd_lite.diagnosis import diagnose
from autograd_lite.verify import Derivation, load_file, verify, verify_paths

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "derivations"
FILES = Path(__file__).resolve().parent / "derivation_files"


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(t):
    e = np.exp(t - t.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def net_inputs(rng):
    return {"x": rng.standard_normal((20, 10)), "W1": rng.standard_normal((10, 5)),
            "b1": rng.standard_normal(5), "W2": rng.standard_normal((5, 10)),
            "b2": rng.standard_normal(10), "y": np.eye(10)[rng.integers(0, 10, 20)]}


def net_loss(x, W1, b1, W2, b2, y, mean=False):
    z1 = x @ W1 + b1
    z1.name = "z1"
    h = al.sigmoid(z1)
    h.name = "h"
    theta = h @ W2 + b2
    theta.name = "theta"
    loss = -(y * al.log_softmax(theta)).sum()
    return loss / 20 if mean else loss


def deltas(x, W1, b1, W2, b2, y):
    h = sigmoid(x @ W1 + b1)
    d3 = softmax(h @ W2 + b2) - y
    return h, d3, (d3 @ W2.T) * h * (1 - h)


def check_of(report, target):
    (check,) = [c for c in report.checks if c.target == target]
    return check


# ------------------------------------------------------------------------------- catalogue
def test_every_shipped_derivation_passes() -> None:
    reports, errors = verify_paths([CATALOGUE])
    assert errors == []
    assert len(reports) >= 13
    for report in reports:
        assert report.passed, [(c.target, c.diagnosis) for c in report.checks if not c.passed]
        for check in report.checks:
            assert check.outcome == "pass"
            if check.kind != "claim":  # formula vs tape within the round-off allowance
                assert check.tape_vs_formula <= 1
    topics = {Path(r.file).stem for r in reports}
    assert topics >= {"softmax", "sigmoid", "softmax_cross_entropy", "neural_network",
                      "word2vec_naive_softmax", "word2vec_negative_sampling",
                      "word2vec_skipgram", "word2vec_cbow"}
    for stem in topics:  # every topic ships its derivation written out
        assert (CATALOGUE / f"{stem}.md").is_file()


def test_cs224n_reference_setting_under_the_course_convention() -> None:
    (packed,) = [d for d in load_file(CATALOGUE / "neural_network.py")
                 if "reference" in d.name]
    arrays = packed.make_inputs()
    assert arrays["params"].shape == (115,) and arrays["x"].shape == (20, 10)
    assert set(np.unique(arrays["y"].sum(axis=1))) == {1.0}  # one-hot labels
    report = al.gradcheck(lambda p: packed.loss(p, arrays["x"], arrays["y"]),
                          arrays["params"], convention="cs224n")
    assert report.passed and report.settings["eps"] == 1e-4
    # and the closed form, packed W1, b1, W2, b2, equals the tape
    assert verify(packed).passed


# ----------------------------------------------------------------------------- diagnoses
def test_flipped_sign() -> None:
    report = verify(load_file(FILES / "wrong_sign.py")[0])
    check = check_of(report, "theta")
    assert not check.passed and check.diagnosis.kind == "sign"
    assert check.tape_vs_numeric <= 1  # the tape itself is right


def test_transposed_matrix_gradient() -> None:
    report = verify(Derivation(
        name="W2 transposed", inputs=net_inputs, loss=net_loss,
        gradients={"W2": lambda **a: deltas(**a)[1].T @ deltas(**a)[0]}))  # δ3ᵀh, not hᵀδ3
    check = check_of(report, "W2")
    assert check.diagnosis.kind == "transpose" and "hᵀδ" in check.diagnosis.message


def test_transposed_square_matrix_gradient() -> None:
    A = np.arange(9.0).reshape(3, 3) / 7
    report = verify(Derivation(
        name="square transposed", inputs={"W": np.eye(3) + 0.1, "A": A},
        loss=lambda W, A: (W * A).sum() + (W @ W).sum() * 0,
        gradients={"W": lambda W, A: A.T}))
    assert check_of(report, "W").diagnosis.kind == "transpose"


def test_forgotten_one_over_n_is_a_factor_n() -> None:
    report = verify(Derivation(
        name="mean loss, sum gradient", inputs=net_inputs,
        loss=lambda **a: net_loss(**a, mean=True),
        gradients={"W1": lambda **a: a["x"].T @ deltas(**a)[2]}, batch=20))
    diagnosis = check_of(report, "W1").diagnosis
    assert diagnosis.kind == "scale" and diagnosis.factor == pytest.approx(20.0)
    assert "N = 20" in diagnosis.message


def test_stray_factor_two() -> None:
    report = verify(Derivation(
        name="stray 2", inputs={"x": np.array([1.0, 2.0, -3.0])}, loss=lambda x: (x * x).sum(),
        gradients={"x": lambda x: 4 * x}))
    diagnosis = check_of(report, "x").diagnosis
    assert diagnosis.kind == "scale" and diagnosis.factor == pytest.approx(2.0)
    assert diagnosis.index == [2]


def test_bias_gradient_not_summed_over_the_batch() -> None:
    report = verify(Derivation(
        name="b1 not summed", inputs=net_inputs, loss=net_loss,
        gradients={"b1": lambda **a: deltas(**a)[2]}))
    check = check_of(report, "b1")
    assert check.diagnosis.kind == "batch_sum" and "sum over axis 0" in check.diagnosis.message
    assert check.tape_vs_formula is None


def test_other_layout_convention_shape() -> None:
    report = verify(Derivation(
        name="column gradient", inputs={"x": np.array([[1.0, 2.0, 3.0]])},
        loss=lambda x: (x * x).sum(), gradients={"x": lambda x: 2 * x.T}))
    diagnosis = check_of(report, "x").diagnosis
    assert diagnosis.kind == "transpose"  # the transpose of the right values
    report = verify(Derivation(
        name="Jacobian layout", inputs={"W": np.ones((2, 3))}, loss=lambda W: (W * W).sum(),
        gradients={"W": lambda W: np.ones((3, 2))}))
    diagnosis = check_of(report, "W").diagnosis
    assert diagnosis.kind == "shape" and "numerator-layout" in diagnosis.message
    report = verify(Derivation(
        name="wrong shape", inputs={"x": np.ones(4)}, loss=lambda x: (x * x).sum(),
        gradients={"x": lambda x: np.ones(3)}))
    diagnosis = check_of(report, "x").diagnosis
    assert diagnosis.kind == "shape" and "(3,)" in diagnosis.message and "(4,)" in diagnosis.message


def test_function_confused_with_another_is_unknown_with_worst_element() -> None:
    z = np.array([0.3, -2.0, 1.5, 0.0])
    report = verify(Derivation(
        name="σ(1 − z) for 1 − σ(z)", inputs={"z": z}, loss=lambda z: al.sigmoid(z).sum(),
        gradients={"z": lambda z: sigmoid(z) * sigmoid(1 - z)}))
    diagnosis = check_of(report, "z").diagnosis
    truth = sigmoid(z) * (1 - sigmoid(z))
    worst = int(np.argmax(np.abs(sigmoid(z) * sigmoid(1 - z) - truth)))
    assert diagnosis.kind == "unknown" and diagnosis.index == [worst]


def test_wrong_middle_step_is_pinpointed_and_later_steps_not_blamed() -> None:
    report = verify(Derivation(
        name="wrong ∂J/∂h", inputs=net_inputs, loss=net_loss,
        gradients={"W2": lambda **a: deltas(**a)[0].T @ deltas(**a)[1],
                   "W1": lambda **a: a["x"].T @ deltas(**a)[2]},
        steps={"theta": lambda **a: deltas(**a)[1],
               "h": lambda **a: deltas(**a)[1] @ a["W2"].T * 2,  # wrong: a stray factor
               "z1": lambda **a: deltas(**a)[2]}))
    assert report.first_wrong_step == "h"
    assert [c.target for c in report.checks if not c.passed] == ["h"]
    assert [c.target for c in report.checks if c.kind == "step"] == ["theta", "h", "z1"]
    assert check_of(report, "h").diagnosis.kind == "scale"


def test_steps_are_checked_three_ways_by_perturbing_the_intermediate() -> None:
    report = verify(Derivation(
        name="steps", inputs=net_inputs, loss=net_loss,
        gradients={}, steps={"theta": lambda **a: deltas(**a)[1] * 0}))
    check = check_of(report, "theta")
    assert check.tape_vs_numeric <= 1  # finite differences agree
    assert check.formula_vs_numeric > 1 and not check.passed


def test_sampling_losses_get_the_same_draws_everywhere() -> None:
    U = np.random.default_rng(3).standard_normal((5, 2))

    def loss(v, rng):
        rows = rng.integers(0, 5, size=3)
        return al.log(al.sigmoid(al.Tensor(U[rows]) @ v)).sum()

    def formula(v, rng):
        rows = rng.integers(0, 5, size=3)
        return (1 - sigmoid(U[rows] @ v)) @ U[rows]

    assert verify(Derivation(name="sampled", inputs={"v": np.ones(2)}, loss=loss,
                             gradients={"v": formula})).passed


def test_claims_report_both_sides() -> None:
    report = verify(Derivation(
        name="claims", inputs={"x": np.array([1.0])}, loss=lambda x: x.sum(),
        claims={"true": lambda x: (x * 2, x + x), "false": lambda x: (x * 2, x * 3)}))
    true, false = report.checks
    assert true.passed and not false.passed
    assert false.to_json()["lhs"] == [2.0] and false.to_json()["rhs"] == [3.0]
    assert false.tape_vs_formula is None


def test_diagnose_directly() -> None:
    truth = np.array([[1.0, -2.0], [0.5, 3.0]])
    assert diagnose(-truth, truth).kind == "sign"
    assert diagnose(truth / 20, truth, batch=20).factor == pytest.approx(1 / 20)
    assert "1/N" in diagnose(truth / 20, truth, batch=20).message


def test_inputs_are_never_modified_by_formulas() -> None:
    x = np.array([1.0, 2.0])

    def vandal(x):
        x *= 100
        return 2 * x / 100

    verify(Derivation(name="vandal", inputs={"x": x}, loss=lambda x: (x * x).sum(),
                      gradients={"x": vandal}))
    np.testing.assert_array_equal(x, [1.0, 2.0])


# ------------------------------------------------------------------------------------ CLI
def test_cli_exit_codes_and_json_schema(capsys) -> None:
    assert main(["verify", str(FILES / "right.py"), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == 3 and document["passed"] is True
    (derivation,) = document["derivations"]
    assert set(derivation) >= {"name", "file", "passed", "checks"}
    (check,) = derivation["checks"]
    assert set(check) >= {"target", "kind", "passed", "tape_vs_formula", "tape_vs_numeric",
                          "formula_vs_numeric", "diagnosis"}
    assert check["kind"] == "gradient" and check["diagnosis"] is None

    assert main(["verify", str(FILES / "wrong_sign.py"), "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    diagnosis = document["derivations"][0]["checks"][0]["diagnosis"]
    assert diagnosis["kind"] == "sign" and isinstance(diagnosis["index"], list)


@pytest.mark.parametrize(("name", "message"), [
    ("broken_syntax.py", "syntax error"), ("no_loss.py", "loss"),
    ("wrong_shapes.py", "matmul: inner dimensions differ"), ("nonscalar.py", "scalar")])
def test_cli_broken_files_exit_2_and_the_rest_are_still_checked(name, message, capsys) -> None:
    status = main(["verify", str(FILES / name), str(FILES / "right.py")])
    out = capsys.readouterr().out
    assert status == 2
    assert name in out and message in out
    assert "PASS  d/dx Σ x² = 2x" in out


def test_cli_writes_only_what_it_is_asked_to(tmp_path) -> None:
    work = tmp_path / "derivs"
    work.mkdir()
    (work / "right.py").write_text((FILES / "right.py").read_text())
    before = {p: p.stat().st_mtime_ns for p in work.rglob("*")}
    assert main(["verify", str(work), "--report", str(tmp_path / "report"),
                 "--graphs", str(tmp_path / "report" / "graphs")]) == 0
    after = {p: p.stat().st_mtime_ns for p in work.rglob("*")}
    assert before == after  # no __pycache__, nothing changed
    written = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "report").rglob("*"))
    assert written == ["report/README.md", "report/graphs",
                       "report/graphs/d-dx-x-2x.svg", "report/index.html"]
    text = (tmp_path / "report" / "README.md").read_text()
    assert "d/dx Σ x² = 2x" in text and "graphs/d-dx-x-2x.svg" in text


def test_cli_default_is_the_shipped_catalogue(capsys, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["verify"]) == 0
    assert "word2vec" in capsys.readouterr().out


def test_failing_targets_are_marked_red_in_the_graph(tmp_path) -> None:
    assert main(["verify", str(FILES / "wrong_sign.py"), "--graphs", str(tmp_path)]) == 1
    (svg,) = tmp_path.glob("*.svg")
    content = svg.read_text()
    assert "#e03131" in content and "wrong sign" in content
    assert os.path.getsize(svg) > 0


def test_readme_example_finds_the_missing_batch_sum() -> None:
    (mine,) = load_file(ROOT / "docs" / "my_derivation.py")
    report = verify(mine)
    assert [c.target for c in report.checks if not c.passed] == ["b"]
    assert check_of(report, "b").diagnosis.kind == "batch_sum"


@pytest.mark.parametrize("seeded", [False, True])
def test_large_inputs_evaluate_the_loss_compiled_with_the_eager_numbers(monkeypatch, seeded):
    """With many evaluations to come, the loss runs compiled: called a handful of times, with
    every figure of the report equal to the eager one (a seeded rng draws the same samples in
    every evaluation either way)."""
    calls = [0]
    rng_x = np.random.default_rng(2)
    inputs = {"W": rng_x.standard_normal((8, 12)), "X": rng_x.standard_normal((6, 8))}

    def loss(W, X, rng=None):
        calls[0] += 1
        rows = rng.integers(0, 6, 4) if seeded else np.arange(4)
        return al.sum(al.tanh(X[rows] @ W) ** 2)

    def gradient(W, X, rng=None):
        rows = rng.integers(0, 6, 4) if seeded else np.arange(4)
        t = np.tanh(X[rows] @ W)
        return X[rows].T @ (2 * t * (1 - t * t))

    derivation = Derivation(name="tanh", inputs=inputs, loss=loss, gradients={"W": gradient},
                            seed=3 if seeded else 0)
    fast = verify(derivation)
    fast_calls, calls[0] = calls[0], 0
    monkeypatch.setattr("autograd_lite.verify.COMPILE_FROM", 10**9)
    slow = verify(derivation)
    assert fast.passed and slow.passed
    assert fast_calls <= 5 < 4 * 96 <= calls[0]
    a, b = check_of(fast, "W"), check_of(slow, "W")
    assert (a.tape_vs_numeric, a.numeric_value, a.numeric_error) == (
        b.tape_vs_numeric, b.numeric_value, b.numeric_error)
