"""`autograd-lite graph` under hostile input: every refusal is one line
`autograd-lite graph: error: …` with exit status 2, quotes at most a short excerpt of the input,
and comes before anything large is allocated; what is accepted gives the right numbers (checked
against NumPy evaluating the same formula) or a clear error."""

from __future__ import annotations

import importlib.metadata
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_lite.cli import main
from autograd_lite.expression import DEFAULT_MAX_ELEMENTS, MAX_LENGTH, MAX_NESTING

SVG = "{http://www.w3.org/2000/svg}"
LONGEST_MESSAGE = 600  # characters: a message quotes an excerpt, never the whole input


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        status = main(list(argv))
    except SystemExit as exc:  # argparse's --help and --version
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_refused(status: int, err: str, phrase: str, command: str = "graph") -> None:
    lines = err.splitlines()
    assert status == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith(f"autograd-lite {command}: error: "), err
    assert phrase in lines[0], err
    assert len(lines[0]) < LONGEST_MESSAGE


def svg_text(path) -> str:
    root = ET.parse(path).getroot()
    return " ".join(t.text or "" for t in root.iter(f"{SVG}text"))


# ------------------------------------------------------------------ the expression's limits
@pytest.mark.parametrize(("expression", "phrase"), [
    ("x" + " + x" * 1_000, "nests deeper"),  # was a RecursionError
    ("x" + ".T" * 10_000, f"longer than {MAX_LENGTH:,}"),  # was a RecursionError
    ("-" * 10_000 + "x", f"longer than {MAX_LENGTH:,}"),  # was a MemoryError
    ("-" * 4_000 + "x", f"deeper than {MAX_NESTING}"),
    ("(" * 150 + "x" + ")" * 150, f"deeper than {MAX_NESTING}"),
    ("tanh(" * 120 + "x" + ")" * 120, f"deeper than {MAX_NESTING}"),
    ("x + " + "9" * 400, "number literal of 400 characters"),  # was an OverflowError
    ("x * 1e999", "not finite"),
    ("x" * 1_000_000, f"longer than {MAX_LENGTH:,}"),  # a 1 MB expression, quoted in part
    ("x.reshape(" + ", ".join(["1"] * 70) + ")", "too long (at most 32)"),  # 70 axes
    ("sum(x, axis=(" + ", ".join(["0"] * 70) + "))", "too long (at most 32)"),
    ('softmax_cross_entropy(x, x, reduction="' + "s" * 100 + '")', "string of 100"),
    ("x[" + ", ".join(["0"] * 70) + "]", "index of 70 items"),
    ("", "empty"),
    ("x +", "cannot parse"),
    ("x\0", "cannot parse"),
])
def test_expression_limits(capsys, tmp_path, expression, phrase) -> None:
    status, _, err = run(capsys, "graph", f"--expr={expression}", "--input", "x=3",
                         "-o", str(tmp_path / "g.svg"))
    assert_refused(status, err, phrase)
    assert not (tmp_path / "g.svg").exists()


def test_messages_quote_a_short_excerpt(capsys, tmp_path) -> None:
    secret = "x" + " + x" * 200_000 + " + unseen_tail"
    status, _, err = run(capsys, "graph", "--expr=" + secret, "--input", "x=3")
    assert_refused(status, err, "characters)")
    assert "unseen_tail" not in err and f"{len(secret):,} characters" in err


# --------------------------------------------------------------------------- the budget
@pytest.mark.parametrize(("expression", "inputs"), [
    ("x", ["x=100000x100000"]),
    ("broadcast_to(x, shape=(100000, 100000))", ["x=3"]),
    ("x.broadcast_to(100000, 100000)", ["x=3"]),
    ("a @ b", ["a=100000x1", "b=1x100000"]),
    ("a + b", ["a=100000x1", "b=100000"]),
    ("stack(" + ", ".join(["x"] * 300) + ")", ["x=100000"]),
    ("x[y]", ["x=100x100000", "y=1000:int:100"]),
    ("scatter_add(x, index=0, shape=(100000, 100000))", ["x=3"]),
])
def test_element_budget_refuses_before_allocating(capsys, tmp_path, expression, inputs) -> None:
    """Each of these would allocate at least 10^10 elements (75 GiB): refused up front."""
    argv = ["graph", expression, "-o", str(tmp_path / "g.svg")]
    for spec in inputs:
        argv += ["--input", spec]
    status, _, err = run(capsys, *argv)
    assert_refused(status, err, f"exceeds the budget of {DEFAULT_MAX_ELEMENTS:,} elements")
    assert "--max-elements" in err


def test_matmul_work_is_bounded_by_the_budget(capsys, tmp_path) -> None:
    """2,500 × 2,500 matrices fit the budget (6.25 million elements each) but their product
    takes 1.6·10¹⁰ multiply-adds (tens of seconds with its gradients): refused at once."""
    status, _, err = run(capsys, "graph", "a @ b", "--input", "a=2500x2500",
                         "--input", "b=2500x2500", "-o", str(tmp_path / "g.svg"))
    assert_refused(status, err, "15,625,000,000 multiply-adds")


def test_the_budget_can_be_raised_and_lowered(capsys, tmp_path) -> None:
    out = tmp_path / "g.svg"
    status, _, err = run(capsys, "graph", "x * 2", "--input", "x=10x10", "-o", str(out),
                         "--max-elements", "150")
    assert_refused(status, err, "budget of 150 elements")  # 100 for x, 100 for x ∘ 2
    status, _, err = run(capsys, "graph", "x * 2", "--input", "x=10x10", "-o", str(out),
                         "--max-elements", "200")
    assert status == 0, err
    status, _, err = run(capsys, "graph", "x", "--input", "x=3", "--max-elements", "0")
    assert_refused(status, err, "--max-elements")


# --------------------------------------------------------------------------- input specs
@pytest.mark.parametrize(("spec", "phrase"), [
    ("x=xxx", "the shape must be"),  # was taken as a scalar
    ("x=4x0", "at least 1"),
    ("x=", "the shape must be"),
    ("x=3xx4", "the shape must be"),
    ("x=-3", "the shape must be"),
    ("x=3.5", "the shape must be"),
    ("x=" + "x".join(["1"] * 70), "70 axes"),
    ("x=" + "9" * 30, "the shape must be"),
    ("y=4:int:0", "at least 1"),  # was silently another class count
    ("y=4:int:-2", "at least 1"),
    ("y=4:float", "unknown kind"),
    ("3x=4", "start with a letter"),
    ("x", "expected NAME=SHAPE"),
])
def test_malformed_inputs_are_refused(capsys, tmp_path, spec, phrase) -> None:
    status, _, err = run(capsys, "graph", "x", "--input", spec, "-o", str(tmp_path / "g.svg"))
    assert_refused(status, err, phrase)


def test_an_input_given_twice_is_refused(capsys, tmp_path) -> None:
    status, _, err = run(capsys, "graph", "x", "--input", "x=3", "--input", "x=4",
                         "-o", str(tmp_path / "g.svg"))
    assert_refused(status, err, "--input x is given twice")


def test_labels_that_do_not_fit_the_cross_entropy_are_refused(capsys, tmp_path) -> None:
    status, _, err = run(capsys, "graph", "softmax_cross_entropy(z, y)", "--input", "z=4x3",
                         "--input", "y=4:int:5", "-o", str(tmp_path / "g.svg"))
    assert_refused(status, err, "do not fit the 3 classes")


@pytest.mark.parametrize(("option", "value"), [
    ("--seed", "-1"), ("--seed", "1.5"), ("--seed", str(2 ** 64)), ("--seed", "9" * 5000),
    ("--max-depth", "0"), ("--max-depth", "x")])
def test_numeric_options_are_checked(capsys, tmp_path, option, value) -> None:
    status, _, err = run(capsys, "graph", "x", "--input", "x=3", option, value,
                         "-o", str(tmp_path / "g.svg"))
    assert_refused(status, err, f"argument {option}")


# --------------------------------------------------------------------------- the output
def test_output_paths_that_cannot_be_written(capsys, tmp_path) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    cases = [(tmp_path, "is a folder"),
             (a_file / "g.svg", "is not a folder"),
             (tmp_path / ("n" * 300 + ".svg"), "too long for the file system"),
             (tmp_path / "g.jpeg", "unknown format")]
    for path, phrase in cases:
        status, _, err = run(capsys, "graph", "x", "--input", "x=3", "-o", str(path))
        assert_refused(status, err, phrase)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_output_into_new_folders(capsys, tmp_path) -> None:
    out = tmp_path / "new" / "deeper" / "g.dot"
    status, stdout, _ = run(capsys, "graph", "x * 2", "--input", "x=3", "-o", str(out))
    assert status == 0 and out.read_text().startswith("digraph") and str(out) in stdout


# ------------------------------------------------------------- what the tour's syntax does
def numpy_reference(expression: str, arrays: dict) -> np.ndarray:
    """The same formula evaluated by NumPy (a test may eval its own literal strings)."""
    namespace = {"tanh": np.tanh, "exp": np.exp, "log": np.log,
                 "sigmoid": lambda z: 1 / (1 + np.exp(-z)), **arrays}
    return np.asarray(eval(expression, {}, namespace))


@pytest.mark.parametrize("expression", [
    "tanh(x @ W).sum()", "(x @ W).sum(axis=0)", "tanh(x @ W).mean()", "x.T @ x",
    "x.reshape(-1, 2).sum(axis=1)", "x.reshape((12,)).max()", "x.sum(0)", "x.T.sum(axis=-1)",
    "exp(x).sum(axis=(0, 1))", "(x * 2 - 1).mean(axis=1)", "x[0:2] @ x.transpose(1, 0)",
    "sigmoid(x[1]) @ W", "-x[:, 1:3].sum()", "x ** 2 / 3", "x - -x", "1e-3 * -(-(+x))",
    "((((x))))[-1, ::2]"])
def test_method_calls_as_in_the_tour(expression, capsys, tmp_path) -> None:
    """Values from the CLI's evaluator equal NumPy's on the same inputs, and the seeded
    gradient of x is the one of Σ(f(x)·1) by central differences."""
    from autograd_lite.expression import evaluate, parse_inputs
    from autograd_lite.modes import retain_grads

    with retain_grads():
        evaluation = evaluate(expression, parse_inputs(["x=3x4", "W=4x2"]), seed=3)
        out = evaluation.output
        out.backward(np.ones(out.shape))
    arrays = {k: t.data.copy() for k, t in evaluation.inputs.items()}
    np.testing.assert_allclose(out.data, numpy_reference(expression, arrays), rtol=1e-12)
    x = arrays["x"]
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = 1e-6
        plus = numpy_reference(expression, {**arrays, "x": x + step}).sum()
        minus = numpy_reference(expression, {**arrays, "x": x - step}).sum()
        numeric[i] = (plus - minus) / 2e-6
    np.testing.assert_allclose(evaluation.inputs["x"].grad, numeric, rtol=1e-6, atol=1e-7)
    status, _, err = run(capsys, "graph", expression, "--input", "x=3x4", "--input", "W=4x2",
                         "-o", str(tmp_path / "g.svg"))
    assert status == 0, err


@pytest.mark.parametrize(("expression", "phrase"), [
    ("tanhh(x)", "did you mean 'tanh'"),
    ("x.sume()", "did you mean 'sum'"),
    ("sigmod(x)", "did you mean 'sigmoid'"),
    ("sum(x, axsi=0)", "did you mean 'axis'"),
    ("xx + 1", "did you mean 'x'"),
    ("x.sum(axis=2)", "axis 2 is out of range"),
    ("x.sum(axis=1.5)", "axis must be"),
    ("x.sum(axis=(0, 0))", "repeats an axis"),
    ("softmax(x, axis=(0, 1))", "axis must be an integer"),
    ("x.sum(keepdims=1)", "keepdims must be True or False"),
    ("exp(x, x)", "exp takes 1 operand"),  # a second operand must never reach the ufunc's out
    ("exp(x, out=x)", "exp has no setting 'out'"),
    ("add(x, x, where=x)", "add has no setting 'where'"),
    ("sum(x, 1)", "give settings by keyword"),
    ("broadcast_to(x)", "broadcast_to needs shape=…"),
    ("x.reshape()", "reshape needs shape=…"),
    ("scatter_add(x, index=0)", "scatter_add needs shape=…"),
    ("x.transpose(0, 0)", "axes must order"),
    ("x.transpose(0, 1.5)", "axes must order"),
    ("transpose(x, axes=(True, 0))", "axes must order"),
    ("x.reshape(7, 5)", "cannot reshape"),
    ("x.astype('complex128')", "real number type"),
    ("x.data", "attribute '.data' is not allowed"),
    ("x.sum()()", "only registered ops can be called"),
    ("x[1.5]", "indices must be integers"),
    ("x[x]", "index arrays must hold integers"),
])
def test_wrong_calls_get_a_clear_error(capsys, tmp_path, expression, phrase) -> None:
    status, _, err = run(capsys, "graph", expression, "--input", "x=3x4",
                         "-o", str(tmp_path / "g.svg"))
    assert_refused(status, err, phrase)


def test_an_expression_that_starts_with_a_minus(capsys, tmp_path) -> None:
    out = tmp_path / "g.svg"
    status, _, err = run(capsys, "graph", "-x", "--input", "x=3", "-o", str(out))
    assert_refused(status, err, "goes after --")
    status, _, err = run(capsys, "graph", "-x*2", "--input", "x=3", "-o", str(out))
    assert_refused(status, err, "goes after --")
    status, _, err = run(capsys, "graph", "--input", "x=3", "-o", str(out), "--", "-x * 2")
    assert status == 0 and "−x" in svg_text(out), err
    out.unlink()
    status, _, err = run(capsys, "graph", "--expr=-x * 2", "--input", "x=3", "-o", str(out))
    assert status == 0 and "−x" in svg_text(out), err
    status, _, err = run(capsys, "graph", "x", "--expr=x", "--input", "x=3")
    assert_refused(status, err, "give the expression once")
    status, _, err = run(capsys, "graph", "--input", "x=3")
    assert_refused(status, err, "the expression is missing")


# --------------------------------------------------------------------------- NaN and Inf
@pytest.mark.parametrize(("expression", "phrase"), [
    ("log(x - 5)", "op 'log' at column 1 ('log(x - 5)') produced 3 NaN/Inf value(s)"),
    ("exp(x * 1000).sum()", "op 'exp'"),
    ("sqrt(x * 0).sum()", "the gradient of 'mul' at column 6 ('x * 0') holds 3 NaN/Inf value(s)"
                          ", made by the backward of op 'sqrt'"),
])
def test_nan_or_inf_warns_names_the_op_and_exits_1(capsys, tmp_path, expression, phrase) -> None:
    out = tmp_path / "g.svg"
    status, stdout, err = run(capsys, "graph", expression, "--input", "x=3", "--seed", "1",
                              "-o", str(out))
    assert status == 1
    (line,) = err.splitlines()  # one warning, and none of NumPy's RuntimeWarnings
    assert line.startswith("autograd-lite graph: warning: ") and phrase in line, line
    assert str(out) in stdout
    content = out.read_text()
    assert "#e03131" in content and "NaN/Inf" in content  # drawn, in red


# ------------------------------------------------------------------- one line, --version
@pytest.mark.parametrize("argv", [
    ["graph", "x", "--input", "x=3", "--no-such-option"], ["graph", "x", "--seed"],
    ["nonsense"], [], ["graph", "x", "--input"]])
def test_usage_errors_are_one_line(capsys, argv) -> None:
    status, _, err = run(capsys, *argv)
    command = "graph" if argv and argv[0] == "graph" else None
    lines = err.splitlines()
    assert status == 2 and len(lines) == 1
    assert lines[0].startswith(f"autograd-lite{' ' + command if command else ''}: error: ")


@pytest.mark.parametrize("argv", [["--version"], ["graph", "--version"], ["verify", "--version"],
                                  ["ops", "--version"], ["graph", "x", "--version"]])
def test_version(capsys, argv) -> None:
    status, out, _ = run(capsys, *argv)
    assert status == 0
    assert out.strip() == f"autograd-lite {importlib.metadata.version('autograd-lite')}"


# ------------------------------------------------------------------------ random commands
ALPHABET = "xyW()[]+-*/@.,:=0123456789 _Tsumaxisglotnhe\"'"


@settings(max_examples=50, deadline=None)
@given(st.text(ALPHABET, max_size=40),
       st.lists(st.text("xyW=0123456789x:int", max_size=12), max_size=3))
def test_random_command_lines_exit_0_1_or_2_with_at_most_one_line(expression, inputs) -> None:
    import contextlib
    import io
    import tempfile

    argv = ["graph", f"--expr={expression}", "--max-elements", "100000"]
    for spec in inputs:
        argv += ["--input", spec]
    err = io.StringIO()
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(io.StringIO()):
        status = main([*argv, "-o", f"{folder}/g.dot"])
    assert_one_line_each(status, err.getvalue())


def assert_one_line_each(status: int, err: str) -> None:
    """Exit 0, 1 or 2; every line on stderr one message of ours; 2 ends with an error line
    (never an internal one), 1 with a warning."""
    assert status in (0, 1, 2)
    lines = err.splitlines()
    assert all(line.startswith("autograd-lite graph: ") for line in lines), err
    if status:
        kind = "error" if status == 2 else "warning"
        assert lines[-1].startswith(f"autograd-lite graph: {kind}: "), err
    assert "internal error" not in err


SETTING_VALUES = st.one_of(
    st.integers(-5, 5), st.floats(-3, 3), st.none(), st.booleans(),
    st.sampled_from(['"sum"', '"mean"', '"float32"', '"x"', '"int8"', '"complex64"']),
    st.lists(st.integers(-3, 3), max_size=4).map(lambda v: f"({', '.join(map(str, v))},)"))


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(sorted(__import__("autograd_lite").list_ops())),
       st.lists(st.tuples(st.sampled_from(["axis", "keepdims", "shape", "axes", "dtype",
                                           "reduction", "index"]), SETTING_VALUES),
                max_size=2, unique_by=lambda item: item[0]),
       st.sampled_from(["x", "x, x", "x, y", "z, y"]), st.booleans())
def test_every_op_with_random_settings_answers_or_refuses(op, settings_, operands,
                                                          method) -> None:
    import contextlib
    import io
    import tempfile

    keywords = ", ".join(f"{key}={value}" for key, value in settings_)
    if method:
        first, _, rest = operands.partition(", ")
        expression = f"{first}.{op}({', '.join(p for p in (rest, keywords) if p)})"
    else:
        expression = f"{op}({', '.join(p for p in (operands, keywords) if p)})"
    err = io.StringIO()
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(io.StringIO()):
        status = main(["graph", f"--expr={expression}", "--input", "x=3x4", "--input",
                       "y=3:int", "--input", "z=3x4", "-o", f"{folder}/g.dot"])
    assert_one_line_each(status, err.getvalue())


def test_library_warnings_are_one_line_each(capsys, tmp_path) -> None:
    status, _, err = run(capsys, "graph", "softmax_cross_entropy(x, x)", "--input", "x=3x4",
                         "-o", str(tmp_path / "g.dot"))
    (line,) = err.splitlines()
    assert status == 0 and line.startswith("autograd-lite graph: warning: softmax_cross_entropy")
