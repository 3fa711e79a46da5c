"""`al.explain`: the backward pass written as a chain-rule derivation, checked as a writeup.

Every explanation here is handed to the writeup checker (`check_writeup`), which parses each
step's LaTeX on its own, evaluates it at random inputs and compares it, element by element, with
the tape's gradient at that node and with finite differences. So each op's template is checked
against the tape step by step; the steps are also matched one to one with the gradients the
original tape forms (same count, same shapes, via `al.grad` on the intermediates).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite.cli import main
from autograd_lite.errors import GraphError, ShapeError
from autograd_lite.explain import Explanation, explain, explain_derivation
from autograd_lite.registry import register_op
from autograd_lite.verify import Derivation

ROOT = Path(__file__).resolve().parent.parent
DERIVATIONS = ROOT / "derivations"


def tensor(rng: np.random.Generator, shape: tuple[int, ...], name: str,
           grad: bool = True) -> al.Tensor:
    return al.Tensor(rng.standard_normal(shape), requires_grad=grad, name=name)


def assert_verified(explanation: Explanation, all_checked: bool = True) -> None:
    """No failing line; with ``all_checked`` every line was understood and checked."""
    report = explanation.verify()
    failures = [c for c in report.checks if not c.passed]
    assert not failures, "\n".join(f"l.{c.line} {c.latex}: {c.diagnosis}" for c in failures)
    if all_checked:
        assert not report.not_checked, report.not_checked
        # every step, and the seed, is a checked link
        assert len(report.checks) >= len(explanation.steps) + 1


def assert_matches_tape(loss: al.Tensor, explanation: Explanation) -> None:
    """One step per gradient the tape forms, each of the shape the tape gives it."""
    for step in explanation.steps:
        (grad,) = al.grad(loss, [step.tensor], retain_graph=True)
        assert np.shape(grad) == step.shape, step.latex


# ------------------------------------------------------------------ each op's template
def _cases(weigh: bool) -> dict[str, object]:
    """name → function of a generator returning a scalar loss exercising one op's template:
    the output weighted by a random constant (no gradient is trivially one), or, without
    ``weigh``, summed (the gradient of the output is the constant 1, folded where exact)."""
    def weighted(out: al.Tensor, rng: np.random.Generator) -> al.Tensor:
        if not weigh:
            return out.sum()
        return (out * al.Tensor(rng.standard_normal(out.shape), name="w")).sum()

    def positive(rng, shape, name):
        return al.Tensor(rng.uniform(0.5, 2.0, shape), requires_grad=True, name=name)

    return {
        "add (bias over rows)": lambda r: weighted(tensor(r, (4, 3), "X") + tensor(r, (3,), "b"),
                                                  r),
        "add (a column)": lambda r: weighted(tensor(r, (4, 3), "X") + tensor(r, (4, 1), "c"), r),
        "sub (a scalar)": lambda r: weighted(tensor(r, (4, 3), "X") - tensor(r, (), "s"), r),
        "mul": lambda r: weighted(tensor(r, (4, 3), "X") * tensor(r, (1, 3), "v"), r),
        "div": lambda r: weighted(tensor(r, (4, 3), "X") / positive(r, (4, 3), "Y"), r),
        "neg": lambda r: weighted(-tensor(r, (2, 3), "X"), r),
        "pow": lambda r: weighted(positive(r, (2, 3), "X") ** 3, r),
        "exp": lambda r: weighted(al.exp(tensor(r, (2, 3), "X")), r),
        # (the checker draws standard normal inputs: log and sqrt of a positive intermediate)
        "log": lambda r: weighted(al.log(al.exp(tensor(r, (2, 3), "X"))), r),
        "sqrt": lambda r: weighted(al.sqrt(al.exp(tensor(r, (2, 3), "X"))), r),
        "abs": lambda r: weighted(al.abs(tensor(r, (2, 3), "X")), r),
        "sigmoid": lambda r: weighted(al.sigmoid(tensor(r, (2, 3), "z")), r),
        "tanh": lambda r: weighted(al.tanh(tensor(r, (2, 3), "z")), r),
        "relu": lambda r: weighted(al.relu(tensor(r, (2, 3), "z")), r),
        "sum (rows)": lambda r: weighted(al.sum(tensor(r, (4, 3), "X"), axis=0), r),
        "sum (columns)": lambda r: weighted(al.sum(tensor(r, (4, 3), "X"), axis=1), r),
        "sum (columns, kept)": lambda r: weighted(
            al.sum(tensor(r, (4, 3), "X"), axis=-1, keepdims=True), r),
        "sum (all) squared": lambda r: al.sum(tensor(r, (4, 3), "X")) ** 2,
        "mean (rows)": lambda r: weighted(al.mean(tensor(r, (4, 3), "X"), axis=0), r),
        "mean (all)": lambda r: al.mean(al.sigmoid(tensor(r, (4, 3), "X"))),
        "matmul (matrices)": lambda r: weighted(tensor(r, (4, 3), "X") @ tensor(r, (3, 2), "W"),
                                                r),
        "matmul (row vector)": lambda r: weighted(tensor(r, (3,), "x") @ tensor(r, (3, 2), "W"),
                                                  r),
        "matmul (matrix, vector)": lambda r: weighted(
            tensor(r, (4, 3), "U") @ tensor(r, (3,), "v"), r),
        "matmul (vectors)": lambda r: al.sigmoid(tensor(r, (3,), "u") @ tensor(r, (3,), "v")),
        "dot": lambda r: weighted(al.dot(tensor(r, (4, 3), "X"), tensor(r, (3, 2), "W")), r),
        "inner": lambda r: al.sigmoid(al.inner(tensor(r, (3,), "u"), tensor(r, (3,), "v"))),
        "outer": lambda r: weighted(al.outer(tensor(r, (3,), "u"), tensor(r, (2,), "v")), r),
        "square": lambda r: weighted(al.square(tensor(r, (2, 3), "X")), r),
        "reciprocal": lambda r: weighted(al.reciprocal(al.exp(tensor(r, (2, 3), "X"))), r),
        "log1p": lambda r: weighted(al.log1p(al.exp(tensor(r, (2, 3), "X"))), r),
        "expm1": lambda r: weighted(al.expm1(tensor(r, (2, 3), "X")), r),
        "softplus": lambda r: weighted(al.special.softplus(tensor(r, (2, 3), "X")), r),
        "log_sigmoid": lambda r: weighted(al.special.log_sigmoid(tensor(r, (2, 3), "X")), r),
        "transpose": lambda r: weighted(tensor(r, (4, 3), "X").T, r),
        "softmax": lambda r: weighted(al.softmax(tensor(r, (4, 3), "theta")), r),
        "log_softmax": lambda r: weighted(al.log_softmax(tensor(r, (4, 3), "theta")), r),
        "softmax_cross_entropy (sum)": lambda r: al.softmax_cross_entropy(
            tensor(r, (4, 3), "theta"), al.Tensor(np.eye(3)[[0, 2, 1, 1]], name="y"),
            reduction="sum"),
        "softmax_cross_entropy (mean)": lambda r: al.softmax_cross_entropy(
            tensor(r, (4, 3), "theta"), al.Tensor(np.eye(3)[[0, 2, 1, 1]], name="y")),
        "softmax_cross_entropy (soft labels)": lambda r: al.softmax_cross_entropy(
            tensor(r, (4, 3), "theta"), al.Tensor(r.dirichlet(np.ones(3), 4), name="y"),
            reduction="sum"),
        "getitem (a row)": lambda r: weighted(tensor(r, (5, 3), "U")[2], r),
        "getitem (rows, repeated)": lambda r: weighted(tensor(r, (5, 3), "U")[[1, 4, 1]], r),
        "getitem (an element)": lambda r: al.sigmoid(tensor(r, (5,), "x")[3]),
        "getitem (elements)": lambda r: weighted(tensor(r, (5,), "x")[np.array([0, 3])], r),
    }


CASES = _cases(weigh=True)
SUMMED = _cases(weigh=False)


@pytest.mark.parametrize("cases", [CASES, SUMMED], ids=["weighted", "summed"])
@pytest.mark.parametrize("case", list(CASES))
def test_each_template_is_checked_step_by_step_against_the_tape(cases, case):
    loss = cases[case](np.random.default_rng(1))
    explanation = explain(loss)
    assert all(step.checkable for step in explanation.steps), explanation.markdown
    assert_verified(explanation)
    assert_matches_tape(loss, explanation)


def test_every_template_op_is_exercised():
    """The built-ins that carry a template are all in the cases above."""
    from autograd_lite.registry import _REGISTRY

    with_template = {name for name, op in _REGISTRY.items() if op.latex is not None}
    covered = {case.split(" ")[0] for case in CASES}
    assert with_template <= covered, with_template - covered


# ------------------------------------------------------------------ the CS224N network
def network_loss(rng: np.random.Generator, n: int = 3) -> al.Tensor:
    x = tensor(rng, (n, 4), "x")
    W1, b1 = tensor(rng, (4, 3), "W1"), tensor(rng, (3,), "b1")
    W2, b2 = tensor(rng, (3, 5), "W2"), tensor(rng, (5,), "b2")
    y = al.Tensor(np.eye(5)[rng.integers(0, 5, n)], name="y")
    z1 = x @ W1 + b1
    z1.name = "z1"
    h = al.sigmoid(z1)
    h.name = "h"
    theta = h @ W2 + b2
    theta.name = "theta"
    return al.softmax_cross_entropy(theta, y, reduction="sum")


def test_network_reads_as_the_course_writes_it():
    loss = network_loss(np.random.default_rng(0))
    explanation = explain(loss)
    text = explanation.markdown
    for line in [
        "W_1 \\in \\mathbb{R}^{4 \\times 3}",
        "z_1 = a_1 + b_1",
        "h = \\sigma(z_1)",
        "J = CE(y, \\mathrm{softmax}(\\theta))",
        # the fused cross-entropy with one-hot labels: ŷ − y
        "\\delta_{\\theta} = \\frac{\\partial J}{\\partial \\theta} = "
        "\\mathrm{softmax}(\\theta) - y \\quad (3 \\times 5)",
        "\\delta_{z_1} = \\frac{\\partial J}{\\partial z_1} = "
        "\\delta_{h} \\circ \\sigma(z_1) \\circ (1 - \\sigma(z_1)) \\quad (3 \\times 3)",
        "\\frac{\\partial J}{\\partial W_2} = h^\\top \\delta_{a_2}",
        "\\frac{\\partial J}{\\partial b_1} = \\mathbf{1}^\\top \\delta_{z_1} \\quad (1 \\times 3)",
    ]:
        assert line in text, line
    assert "1 \\circ" not in text  # the seed of one is folded
    assert_verified(explanation)
    assert_matches_tape(loss, explanation)


def test_mean_loss_folds_its_one_over_n():
    rng = np.random.default_rng(2)
    X = tensor(rng, (4, 3), "X")
    loss = al.mean(al.sigmoid(X))
    text = explain(loss).markdown
    assert "= \\frac{1}{12} \\quad (4 \\times 3)" in text
    assert "\\frac{\\partial J}{\\partial X} = \\frac{1}{12} \\circ \\sigma(X)" in text
    assert_verified(explain(loss))


# ------------------------------------------------------------------ shipped derivations
def _derivations() -> list[tuple[str, Derivation]]:
    found = []
    sys.path.insert(0, str(DERIVATIONS))
    try:
        for path in sorted(DERIVATIONS.glob("*.py")):
            spec = importlib.util.spec_from_file_location(f"_explain_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            found += [(f"{path.stem}.{name}", value) for name, value in vars(module).items()
                      if isinstance(value, Derivation)]
    finally:
        sys.path.remove(str(DERIVATIONS))
    return found


SHIPPED = _derivations()


@pytest.mark.parametrize("derivation", [d for _, d in SHIPPED], ids=[n for n, _ in SHIPPED])
def test_shipped_derivations_explained_verify_with_no_failing_line(derivation):
    explanation = explain_derivation(derivation)
    report = explanation.verify()
    for check in report.checks:  # (the shift by the row maximum of a stable softmax)
        assert check.passed, \
            f"l.{check.line} {check.latex}: {check.diagnosis}"
    checked_lines = {c.line for c in report.checks}
    not_checked = {n["line"] for n in report.not_checked}
    lines = explanation.markdown.splitlines()
    for step in explanation.steps:
        number = lines.index(f"$${step.latex}$$") + 1
        if step.checkable:  # a step the language can write is checked (or over budget)
            assert number in checked_lines or number in not_checked, step.latex
        else:  # a generic step is listed as not checked, never judged
            assert number in not_checked and number not in checked_lines, step.latex
    assert sum(s.checkable for s in explanation.steps) >= len(explanation.steps) // 2


def test_shipped_network_steps_match_the_tape():
    derivation = next(d for n, d in SHIPPED
                            if n == "neural_network.SINGLE_EXAMPLE")
    arrays = derivation.make_inputs()
    tensors = {k: al.Tensor(v, requires_grad=k != "y", name=k) for k, v in arrays.items()}
    loss = derivation.loss(**tensors)
    explanation = explain(loss)
    assert_matches_tape(loss, explanation)
    symbols = [s.symbol for s in explanation.steps]
    assert symbols.index("\\theta") < symbols.index("h") < symbols.index("z_1")  # newest first


# ------------------------------------------------------------------ generic and guarded steps
def test_an_op_without_template_gets_a_generic_step_listed_as_not_checked():
    cube = register_op("explain_test_cube", lambda x: x ** 3,
                       lambda g, out, x: (3 * g * x ** 2,))
    rng = np.random.default_rng(3)
    x = tensor(rng, (2, 3), "x")
    loss = al.sum(al.sigmoid(cube(x)))
    explanation = explain(loss)
    generic = [s for s in explanation.steps if not s.checkable]
    assert [s.symbol for s in generic] == ["x"]
    assert "\\mathrm{VJP}_{\\mathrm{explain_test_cube}}" in generic[0].latex
    report = explanation.verify()
    assert all(c.passed for c in report.checks)
    assert len(report.not_checked) == 1 and "VJP" in report.not_checked[0]["latex"]
    assert len(report.checks) == len(explanation.steps)  # the seed and the steps after it


def test_a_tensor_exponent_is_generic():
    """x ** Y of a tensor Y has no form in the writeup language: its output is declared, the
    steps after it are still checked."""
    rng = np.random.default_rng(8)
    X = al.Tensor(rng.uniform(0.5, 2.0, (2, 3)), requires_grad=True, name="X")
    loss = al.sigmoid(X ** tensor(rng, (2, 3), "Y")).sum()
    explanation = explain(loss)
    assert {s.symbol for s in explanation.steps if not s.checkable} == {"X", "Y"}
    report = explanation.verify()
    assert all(c.passed for c in report.checks) and len(report.checks) == 3


def test_arrays_of_three_axes_and_reserved_names_are_never_misread():
    """The language has matrices at most, and reads σ, δ, e as functions or steps: such ops are
    generic and such names replaced, never checked as something else."""
    rng = np.random.default_rng(10)
    X, sigma = tensor(rng, (2, 3, 4), "X"), tensor(rng, (3, 4), "sigma")
    explanation = explain(al.sigmoid(X + sigma).sum())
    assert not any(s.checkable for s in explanation.steps)
    assert "\\sigma \\in" not in explanation.markdown
    report = explanation.verify()
    assert report.checks == [] and report.not_checked
    e = tensor(rng, (2, 2), "e")
    assert "e \\in" not in explain(al.exp(e).sum()).markdown


def test_nodes_the_checker_would_merge_are_written_as_inputs():
    """sum(W, axis=1) computed twice: the writeup's model would take the two for one node and
    give each the other's gradient; one is declared instead, and nothing fails."""
    rng = np.random.default_rng(4)
    W = tensor(rng, (4, 3), "W")
    loss = (al.sum(W, axis=1) ** 2).sum() + (al.sum(W, axis=1, keepdims=True) ** 3).sum()
    explanation = explain(loss)
    report = explanation.verify()
    assert all(c.passed for c in report.checks), [c.diagnosis for c in report.checks]
    assert any(not s.checkable for s in explanation.steps)


def test_softmax_beside_log_softmax_is_not_confused():
    rng = np.random.default_rng(5)
    theta = tensor(rng, (2, 4), "theta")
    loss = (al.softmax(theta) * al.log_softmax(theta)).sum()
    report = explain(loss).verify()
    assert report.checks and all(c.passed for c in report.checks)


def test_refusals():
    with pytest.raises(GraphError, match="must be a Tensor"):
        explain(np.ones(()))
    rng = np.random.default_rng(6)
    with pytest.raises(ShapeError, match="scalar"):
        explain(al.sigmoid(tensor(rng, (2, 3), "x")))
    with pytest.raises(GraphError, match="no recorded history"):
        explain(tensor(rng, (), "x"))


def test_a_loss_of_too_many_ops_is_refused_and_a_long_chain_is_not():
    from autograd_lite.explain import MAX_OPS

    x = tensor(np.random.default_rng(9), (2, 2), "x")
    h = x
    for _ in range(MAX_OPS - 1):
        h = al.tanh(h)
    assert len(explain(h.sum()).steps) == MAX_OPS  # (every node and x)
    with pytest.raises(GraphError, match=f"at most {MAX_OPS:,}"):
        explain(al.tanh(h).sum())


def test_explanation_after_backward_still_verifies():
    loss = network_loss(np.random.default_rng(7))
    loss.backward()  # frees the saved arrays; the structure is enough
    assert_verified(explain(loss))


# ------------------------------------------------------------------ the command line
def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        status = main(list(argv))
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


NET = ["sum(-y * log_softmax(sigmoid(x @ W1 + b1) @ W2 + b2))", "--input", "x=3x4",
       "--input", "W1=4x3", "--input", "b1=3", "--input", "W2=3x5", "--input", "b2=5",
       "--input", "y=3x5"]


def test_cli_prints_an_explanation_that_verifies(capsys, tmp_path):
    status, out, err = run(capsys, "explain", *NET)
    assert status == 0, err
    assert out.startswith("# The backward pass of $J$")
    path = tmp_path / "net.md"
    status, out, err = run(capsys, "explain", *NET, "-o", str(path))
    assert status == 0 and path.is_file(), err
    status, out, err = run(capsys, "verify", str(path))
    assert status == 0, out + err
    assert "0 failed" in out


@pytest.mark.parametrize("argv, phrase", [
    ((), "the expression is missing"),
    (("x @ W", "--input", "x=3x2", "--input", "W=2x2"), "explain needs a scalar loss"),
    (("sum(x)", "--input", "x=3y2"), "expected NAME=SHAPE"),
    (("sum(nope(x))", "--input", "x=3"), "'nope' is not a registered op"),
    (("sum(x)", "--input", "x=3", "-o", "/nonexistent-dir/e.md"), "cannot write"),
    (("sum(x)",), "x"),
    (("2 * 3",), "does not use any input"),
])
def test_cli_refuses_with_one_line(capsys, argv, phrase):
    status, out, err = run(capsys, "explain", *argv)
    lines = err.splitlines()
    assert status == 2, err
    assert len(lines) == 1 and lines[0].startswith("autograd-lite explain: error: "), err
    assert phrase in lines[0], err
    assert out == ""


# ------------------------------------------------------------------ the verify report
FAILING = '''
import numpy as np
import autograd_lite as al
from autograd_lite.verify import Derivation


def loss(x, W):
    h = al.sigmoid(x @ W)
    h.name = "h"
    return h.sum()


WRONG = Derivation(
    name="a forgotten sigma prime",
    inputs=lambda rng: {"x": rng.standard_normal((3, 4)), "W": rng.standard_normal((4, 2))},
    loss=loss,
    gradients={"W": lambda x, W: x.T @ (1 / (1 + np.exp(-x @ W)))},
)
'''


def test_a_failing_target_gets_the_explanation_in_both_reports(tmp_path, capsys):
    source = tmp_path / "wrong.py"
    source.write_text(FAILING, encoding="utf-8")
    report_dir = tmp_path / "report"
    status, out, err = run(capsys, "verify", str(source), "--report", str(report_dir))
    assert status == 1, out + err
    readme = (report_dir / "README.md").read_text(encoding="utf-8")
    assert "The backward pass of the loss, step by step" in readme
    assert "\\frac{\\partial J}{\\partial W} = x^\\top \\delta_{a_1}" in readme
    page = (report_dir / "index.html").read_text(encoding="utf-8")
    section = page[page.index("The backward pass of the loss"):]
    assert "<math" in section and "cannot render" not in page
    assert "\\delta_{a_1}" in section  # the LaTeX kept as the MathML's annotation


def test_a_passing_derivation_has_no_explanation(tmp_path, capsys):
    source = tmp_path / "right.py"
    sigma = "1 / (1 + np.exp(-x @ W))"
    source.write_text(FAILING.replace(f"x.T @ ({sigma})", f"x.T @ (({sigma}) * (1 - {sigma}))"),
                      encoding="utf-8")
    report_dir = tmp_path / "report"
    status, out, err = run(capsys, "verify", str(source), "--report", str(report_dir))
    assert status == 0, out + err
    assert "step by step" not in (report_dir / "README.md").read_text(encoding="utf-8")


# ------------------------------------------------------------------ the user documentation
def test_the_documentation_examples_run_and_show_what_they_print(capsys):
    """docs/explain.md: its Python blocks run in order, and the explanation it shows (quoted)
    is the one the first block prints, display by display."""
    import re

    page = (ROOT / "docs" / "explain.md").read_text(encoding="utf-8")
    namespace: dict = {}
    for block in re.findall(r"```python\n(.*?)```", page, re.S):
        exec(compile(block, "explain.md example", "exec"), namespace)
    printed = capsys.readouterr().out
    assert namespace["report"].passed and not namespace["report"].not_checked
    shown = [line[2:] for line in page.splitlines() if line.startswith("> $$")]
    first = printed[:printed.index("# The backward pass", 1)]
    assert shown == [line for line in first.splitlines() if line.startswith("$$")]
    assert "\\frac{\\partial J}{\\partial X} = \\sigma(X)" in printed


def test_a_derivations_explanation_carries_its_backward_pass_as_numpy_code() -> None:
    """explain_derivation(d).code: the program al.compile generates for the loss, valid Python
    that returns a gradient for every target; running it gives the tape's gradients."""
    from autograd_lite.compile import compile as compile_program
    from autograd_lite.verify import load_file

    derivation = load_file(ROOT / "derivations" / "neural_network.py")[1]
    explanation = explain_derivation(derivation)
    assert explanation.code is not None, explanation.code_note
    compile(explanation.code, "<explanation>", "exec")  # Python's compile: valid source
    for name in derivation.gradients:
        assert f"d_{name} = " in explanation.code
    arrays = derivation.make_inputs()
    floats = [k for k, v in arrays.items() if v.dtype.kind == "f"]
    wrt = tuple(i for i, k in enumerate(floats) if k in derivation.gradients)

    def loss(*values):
        return derivation.loss(**{**arrays, **dict(zip(floats, values))})

    value, grads = compile_program(al.func.value_and_grad(loss, argnums=wrt))(
        *(arrays[k] for k in floats))
    tensors = {k: al.Tensor(v, requires_grad=k in derivation.gradients)
               for k, v in arrays.items()}
    tape = loss(*(tensors[k] for k in floats))
    tape.backward()
    np.testing.assert_allclose(value, tape.data, rtol=1e-14)
    for i, g in zip(wrt, grads):
        np.testing.assert_allclose(g, tensors[floats[i]].grad, rtol=1e-12, atol=1e-15)
