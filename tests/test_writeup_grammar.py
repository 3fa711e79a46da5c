"""The writeup math language, construct by construct: what each piece of LaTeX is read as, and
what it evaluates to (against NumPy, computed here independently)."""

from __future__ import annotations

import pytest

from autograd_lite.writeup import check_writeup
from autograd_lite.writeup.extract import equations, find_math
from autograd_lite.writeup.syntax import (
    Binary,
    Call,
    Deriv,
    Index,
    Kronecker,
    NotUnderstood,
    Num,
    Ones,
    Parser,
    Reduce,
    Sym,
    Unary,
    tokenize,
)


def parse(latex: str, known: tuple[str, ...] = ()) -> object:
    return Parser(tokenize(latex), latex, frozenset(known)).parse()


def verdicts(text: str, **options) -> list[tuple[int, str]]:
    """(line, verdict) for every check and every not-checked item of a writeup."""
    report = check_writeup(text, **options)
    assert report.error is None, report.error
    out = [(c.line, "pass" if c.passed else "fail") for c in report.checks]
    out += [(n["line"], "not checked") for n in report.not_checked]
    return sorted(out)


# ----------------------------------------------------------------------------- symbols
@pytest.mark.parametrize("latex", ["W_2", "W_{2}", r"\mathbf{W}_2", r"\boldsymbol{W}_2",
                                   r"\bold{W}_{2}", r"\mathbf{W_2}", r"\mathrm{W}_2", r"\vec{W}_2"])
def test_styles_do_not_change_the_symbol(latex):
    assert parse(latex) == Sym("W_2")


@pytest.mark.parametrize("latex", [r"\hat y", r"\hat{y}", r"\hat{\mathbf{y}}",
                                   r"\widehat{\boldsymbol{y}}"])
def test_hats(latex):
    assert parse(latex) == Sym("y\u0302")


def test_greek_subscripts_and_primes():
    assert parse(r"\delta_3") == Sym("δ_3")
    assert parse(r"\theta") == Sym("θ")
    assert parse("f_2") == Sym("f_2")
    assert parse("x'") == Sym("x′")
    assert parse(r"V_{\text{in}}") == Sym("V_in")


def test_a_letter_subscript_is_an_index_unless_the_symbol_is_declared():
    assert parse(r"\theta_i") == Index(Sym("θ"), ("i",))
    assert parse("v_c") == Sym("v_c")  # c is not an index letter
    assert parse("x_i", known=("x_i",)) == Sym("x_i")
    assert parse(r"\delta_{3,n}") == Index(Sym("δ_3"), ("n",))
    assert parse(r"\delta_{ik}") == Kronecker("i", "k")


# -------------------------------------------------------------------------- operators
def test_numbers_sums_and_unary_signs():
    assert parse("2.5") == Num(2.5)
    assert parse("a + b - c") == Binary("-", Binary("+", Sym("a"), Sym("b")), Sym("c"))
    assert parse("-a") == Unary("neg", Sym("a"))
    assert parse("+a") == Sym("a")


def test_products():
    matmul = Binary("@", Sym("x"), Sym("W"))
    assert parse("x W") == matmul
    assert parse(r"x \cdot W") == matmul
    assert parse(r"a \times b") == Binary("x", Sym("a"), Sym("b"))
    for op in (r"\circ", r"\odot", "*"):
        assert parse(f"a {op} b") == Binary("*", Sym("a"), Sym("b"))
    assert parse("a / b") == Binary("/", Sym("a"), Sym("b"))
    assert parse(r"\frac{a}{b}") == Binary("/", Sym("a"), Sym("b"))
    # juxtaposition binds tighter than the element-wise product
    assert parse(r"a b \circ c") == Binary("*", Binary("@", Sym("a"), Sym("b")), Sym("c"))


@pytest.mark.parametrize("latex", ["W^T", r"W^\top", "W^{T}", r"W^{\top}", r"W^\intercal"])
def test_transposes(latex):
    assert parse(latex) == Unary("T", Sym("W"))


def test_inverse_power_and_roots():
    assert parse("a^{-1}") == Unary("inv", Sym("a"))
    assert parse("a^2") == Binary("^", Sym("a"), Num(2.0))
    assert parse(r"\sqrt{a}") == Binary("^", Sym("a"), Num(0.5))


@pytest.mark.parametrize("latex", [r"(a + b)", r"\left(a + b\right)", r"\bigl(a + b\bigr)",
                                   r"\Bigl(a + b\Bigr)", r"[a + b]", r"\{a + b\}",
                                   r"\left[a + b\right]", r"\cancel{a + b}", r"\bcancel{a + b}"])
def test_brackets_of_every_size_and_cancel(latex):
    assert parse(latex) == Binary("+", Sym("a"), Sym("b"))


# -------------------------------------------------------------------------- functions
@pytest.mark.parametrize("latex", [r"\mathrm{softmax}(x)", r"\text{softmax}(x)",
                                   r"\operatorname{softmax}(x)", "softmax(x)",
                                   r"\operatorname{softmax}\left(x\right)"])
def test_softmax_in_every_spelling(latex):
    assert parse(latex) == Call("softmax", (Sym("x"),))


def test_functions():
    assert parse(r"\sigma(z)") == Call("sigma", (Sym("z"),))
    assert parse(r"\sigma'(z)") == Call("sigma", (Sym("z"),), 1)
    assert parse(r"\tanh(z)") == Call("tanh", (Sym("z"),))
    assert parse(r"\exp(z)") == parse("e^{z}") == Call("exp", (Sym("z"),))
    assert parse(r"\log z") == parse(r"\ln(z)") == Call("log", (Sym("z"),))
    assert parse(r"\mathrm{ReLU}(z)") == Call("relu", (Sym("z"),))
    assert parse(r"CE(y, \hat y)") == Call("CE", (Sym("y"), Sym("y\u0302")))
    assert parse(r"\operatorname{diag}(p)") == Call("diag", (Sym("p"),))
    assert parse(r"\mathbf{1}") == Ones()
    assert parse(r"\max(0, z)") == Call("relu", (Sym("z"),))


def test_an_element_wise_function_of_an_element_is_the_element_of_the_function():
    assert parse(r"\sigma(Z_{ij})") == Index(Call("sigma", (Sym("Z"),)), ("i", "j"))
    assert parse(r"e^{x_i}") == Index(Call("exp", (Sym("x"),)), ("i",))


def test_sums_reach_over_the_product_that_follows():
    body = Binary("@", Index(Sym("a"), ("i",)), Index(Sym("b"), ("i",)))
    assert parse(r"\sum_i a_i b_i + c") == Binary("+", Reduce("sum", ("i",), body), Sym("c"))
    bounded = parse(r"\sum_{j=1}^{n} a_j")
    assert bounded == Reduce("sum", ("j",), Index(Sym("a"), ("j",)), Num(1.0), Sym("n"))
    assert parse(r"\max_i x_i") == Reduce("max", ("i",), Index(Sym("x"), ("i",)))


def test_derivatives():
    expected = Deriv(Sym("J"), Sym("x"))
    assert parse(r"\frac{\partial J}{\partial x}") == expected
    assert parse(r"\partial J / \partial x") == expected
    assert parse(r"\nabla_x J") == expected
    assert parse(r"\frac{dJ}{dx}") == expected
    assert parse(r"\nabla_{\theta} J") == Deriv(Sym("J"), Sym("θ"))
    # the operator form reaches over the product that follows, up to the next + or -
    assert parse(r"\frac{d}{dx}\sigma(x) y + 1") == Binary(
        "+", Deriv(Binary("@", Call("sigma", (Sym("x"),)), Sym("y")), Sym("x")), Num(1.0))
    assert parse(r"\frac{\partial}{\partial x}(a + b)") == Deriv(
        Binary("+", Sym("a"), Sym("b")), Sym("x"))
    assert parse(r"\frac{\partial L}{\partial \theta_i}") == Index(Deriv(Sym("L"), Sym("θ")),
                                                                  ("i",))


@pytest.mark.parametrize("latex, reason", [
    (r"\foo(x)", "not part of the math language"),
    (r"\sigma", "without an argument"),
    (r"\frac{\partial^2 J}{\partial x^2}", "second"),
    (r"\|x\|_1", "the norm"),
    (r"|a + |b||", "ambiguous"),
    (r"J(a, b)", "function that is not known"),
    (r"\sum_{k: w_k = w} a", "condition"),
    (r"\sqrt[3]{x}", "n-th root"),
])
def test_what_is_not_understood_says_why(latex, reason):
    with pytest.raises(NotUnderstood, match=reason):
        parse(latex)


# ------------------------------------------------------------------------- extraction
def test_math_is_found_in_every_delimiter_and_environment():
    text = ("prose $a = 1$ and \\(b = 2\\)\n$$c = 3$$\n\\[d = 4\\]\n"
            "\\begin{equation}e = 5\\end{equation}\n\\begin{align*}f &= 6 \\\\ g &= 7"
            "\\end{align*}\n\\begin{gather}k = 8\\end{gather}\n")
    found = [eq.text.replace(" ", "") for eq in equations(text, tex=False)[0]]
    assert found == ["a=1", "b=2", "c=3", "d=4", "e=5", "f=6", "g=7", "k=8"]


def test_markdown_code_is_not_math():
    text = "```\n$x = 1$\n```\nand `$y = 2$` but $z = 3$\n"
    blocks, _ = find_math(text, tex=False)
    assert [b.text for b, _ in blocks] == ["z = 3"]


def test_rows_continue_a_chain_and_arrows_separate_equations():
    text = "$$a = b$$\n\n$$= c$$\n\n$$d = e \\Rightarrow f = g, \\quad h = k$$\n"
    found = [eq.text.replace(" ", "") for eq in equations(text, tex=False)[0]]
    assert found == ["a=b=c", "d=e", "f=g", "h=k"]


def test_a_comma_inside_an_expression_does_not_split_it():
    found = [eq.text for eq in equations(r"$J = CE(y, \hat y), \quad x = 1$", tex=False)[0]]
    assert found == [r"J = CE(y, \hat y)", "x = 1"]


# ------------------------------------------------- values, lines, declarations, conventions
def test_identities_are_checked_with_their_lines():
    text = ("# Identities\n\n$$\\sigma(x) = \\frac{1}{1 + e^{-x}}$$\n\n$$= \\frac{e^x}{1 + e^x}"
            "$$\n\n$$\\tanh(x) = 2\\sigma(2x) + 1$$\n")
    assert verdicts(text) == [(3, "pass"), (5, "pass"), (5, "pass"), (7, "fail")]
    report = check_writeup(text)
    assert report.name == "Identities"
    assert report.checks[0].latex == r"\sigma(x) = \frac{1}{1 + e^{-x}}"


def test_softmax_by_index_against_numpy():
    text = (r"$x \in \mathbb{R}^{1 \times C}$, $p = \mathrm{softmax}(x)$"
            "\n\n$$p_i = \\frac{e^{x_i}}{\\sum_{j=1}^{C} e^{x_j}}$$\n")
    assert verdicts(text) == [(3, "pass")]


def test_trailing_annotations_tags_and_prose_are_ignored():
    text = (r"$x \in \mathbb{R}^{1 \times n}$, $w \in \mathbb{R}^{1 \times n}$, $J = x w^\top$."
            "\n\n$$\\frac{\\partial J}{\\partial x} = w \\quad (1 \\times n) \\tag{2}$$"
            "\n\n$$\\nabla_w J = x, \\qquad \\text{as expected.}$$\n")
    assert verdicts(text) == [(3, "pass"), (5, "pass")]


def test_declarations_give_shapes_and_dims_set_sizes():
    text = (r"$x \in \mathbb{R}^{1 \times D}$, $W \in \mathbb{R}^{D \times H}$, "
            r"$u \in \mathbb{R}^{1 \times H}$, $J = x W u^\top$ and "
            r"$\frac{\partial J}{\partial W} = x^\top u$.")
    report = check_writeup(text, dims={"D": 7})
    assert report.sizes["D"] == 7 and report.sizes["H"] not in (1, 7)
    assert [c.passed for c in report.checks] == [True]


def test_a_vector_of_ones():
    text = r"$x \in \mathbb{R}^{1 \times n}$ and $\mathbf{1}^\top x^\top = \sum_i x_i$."
    assert verdicts(text) == [(1, "pass")]


def test_a_definition_may_end_with_a_declaration():
    text = (r"$\theta \in \mathbb{R}^{1 \times K}$, $y \in \{0,1\}^{1 \times K}$, "
            r"$\Delta = \mathrm{softmax}(\theta) - y \in \mathbb{R}^{1 \times K}$, "
            r"$J = CE(y, \mathrm{softmax}(\theta))$, $\nabla_\theta J = \Delta$.")
    assert verdicts(text) == [(1, "pass")]


def test_undeclared_shapes_are_inferred_from_the_definitions():
    text = (r"$h = \sigma(x W + b)$, $J = \sum h$, $\frac{\partial J}{\partial b} = h \circ "
            r"(1 - h)$, $\frac{\partial J}{\partial W} = x^\top (h \circ (1 - h))$.")
    report = check_writeup(text)
    x, W, b = (report.inferred[name] for name in ("x", "W", "b"))
    assert x[0] == 1 and b[0] == 1 and [x[1], b[1]] == W and x[1] != b[1]
    assert [c.passed for c in report.checks] == [True, True]


def test_the_column_convention():
    text = (r"$v \in \mathbb{R}^{d}$, $U \in \mathbb{R}^{V \times d}$, $\theta = U v$, "
            r"$y \in \{0,1\}^{V}$, $J = CE(y, \mathrm{softmax}(\theta))$, "
            r"$\frac{\partial J}{\partial v} = U^\top (\mathrm{softmax}(\theta) - y)$.")
    assert [c.passed for c in check_writeup(text, convention="column").checks] == [True]
    assert [c.passed for c in check_writeup(
        "<!-- autograd-lite: convention=column -->\n" + text).checks] == [True]
    row = check_writeup(text, convention="row")
    assert not row.passed and row.checks[0].diagnosis.kind == "shape"


def test_structural_sharing_names_the_inside_of_a_definition():
    text = (r"$x \in \mathbb{R}^{1 \times n}$, $W \in \mathbb{R}^{n \times m}$, "
            r"$h = \tanh(x W)$, $J = \sum h$, $f = x W$, "
            r"$\frac{\partial J}{\partial f} = 1 - h \circ h$.")
    assert [c.passed for c in check_writeup(text).checks] == [True]


def test_a_derivative_at_a_node_the_loss_does_not_use_is_not_checked():
    text = r"$h = \tanh(x)$, $s = \sigma(x)$, $J = \sum h$, $\frac{\partial J}{\partial s} = 0$."
    report = check_writeup(text)
    assert report.checks == [] and "not a step" in report.not_checked[0]["reason"]


def test_one_hot_first_argument_of_ce():
    text = r"$J = CE(y, \mathrm{softmax}(\theta))$ and $\sum_i y_i = 1$."
    assert verdicts(text) == [(1, "pass")]


def test_several_draws_are_seeded():
    text = r"$h = \sigma(x W)$, $J = \sum h$, $\nabla_W J = x^\top (h \circ (1 - h))$."
    a, b = check_writeup(text, seed=3), check_writeup(text, seed=3)
    assert a.checks[0].tape_vs_numeric == b.checks[0].tape_vs_numeric
    assert a.draws == 3


def test_diag_max_and_a_declared_e():
    text = (r"$x \in \mathbb{R}^{1 \times n}$, $e \in \mathbb{R}$. "
            "\n\n$$x \\operatorname{diag}(x) = x \\circ x$$"
            "\n\n$$\\mathrm{softmax}(x) = \\mathrm{softmax}(x - \\max_i x_i)$$"
            "\n\n$$e^{2} = e \\cdot e$$\n")
    assert verdicts(text) == [(3, "pass"), (5, "pass"), (7, "pass")]
    assert parse("e^{2}", known=("e",)) == Binary("^", Sym("e"), Num(2.0))


def test_split_inside_equation_and_therefore():
    text = ("\\begin{equation}\\begin{split} \\sigma(-x) &= 1 - \\sigma(x) \\\\\n"
            " &= \\frac{1}{1 + e^{x}} \\end{split}\\end{equation}\n"
            "$$\\therefore \\tanh(x) = 2 \\sigma(2x) - 1$$\n")
    assert verdicts(text) == [(1, "pass"), (2, "pass"), (2, "pass"), (3, "pass")]


def test_layer_superscripts_are_part_of_the_name_not_powers():
    assert parse("W^{[2]}") == Sym("W^[2]")
    assert parse("a^{(2)}_i") == Index(Sym("a^(2)"), ("i",))
    assert parse(r"h^{\langle t \rangle}") == Sym("h^<t>")
    text = (r"$W^{[1]} \in \mathbb{R}^{n \times m}$, $x \in \mathbb{R}^{1 \times n}$, "
            r"$a^{(1)} = \tanh(x W^{[1]})$, $J = \sum a^{(1)}$, "
            r"$\nabla_{W^{[1]}} J = x^\top (1 - a^{(1)} \circ a^{(1)})$.")
    assert verdicts(text) == [(1, "pass")]


def test_a_function_written_with_its_arguments():
    text = (r"$\theta \in \mathbb{R}^{1 \times K}$, $y \in \{0,1\}^{1 \times K}$."
            "\n\n$$J(\\theta) = CE(y, \\mathrm{softmax}(\\theta))$$"
            "\n\n$$\\frac{\\partial J(\\theta)}{\\partial \\theta} = "
            "\\mathrm{softmax}(\\theta) - y$$"
            "\n\n$$J(y) = 0$$\n")
    assert verdicts(text) == [(5, "pass"), (7, "not checked")]
    assert "defined at (θ) only" in check_writeup(text).not_checked[0]["reason"]


def test_script_letters_blackboard_one_and_upright_d():
    assert parse(r"\mathcal{L}") == Sym("𝓛")
    assert parse(r"\mathbb{1}") == Ones()
    assert parse(r"\frac{\mathrm{d}J}{\mathrm{d}x}") == Deriv(Sym("J"), Sym("x"))


def test_inline_math_does_not_span_paragraphs():
    blocks, _ = find_math("it costs $5 and\n\nnot $6$; but $a = b$", tex=False)
    assert [b.text for b, _ in blocks] == ["6", "a = b"]


def test_bars_norms_trace_and_sign():
    assert parse("|x|") == parse(r"\lvert x \rvert") == Call("abs", (Sym("x"),))
    assert parse(r"\|W\|_F") == parse(r"\left\lVert W \right\rVert") == Call("norm", (Sym("W"),))
    assert parse(r"\|x\|_2") == Call("norm2", (Sym("x"),))
    assert parse(r"\mathrm{tr}(A)") == Call("trace", (Sym("A"),))
    text = (r"$W \in \mathbb{R}^{n \times m}$, $x \in \mathbb{R}^{1 \times n}$, "
            r"$A \in \mathbb{R}^{m \times n}$, $\lambda \in \mathbb{R}$."
            "\n\n$$J = \\frac{\\lambda}{2} \\|W\\|_F^2 + \\sum |x W|$$"
            "\n\n$$\\nabla_W J = \\lambda W + x^\\top \\mathrm{sign}(x W)$$"
            "\n\n$$\\|x\\|^2 = x x^\\top$$"
            "\n\n$$\\frac{\\partial}{\\partial W} \\mathrm{tr}(A W) = A^\\top$$\n")
    assert verdicts(text) == [(5, "pass"), (7, "pass"), (9, "pass")]


def test_jacobians_of_vectors_in_the_numerator_layout():
    text = (r"$x \in \mathbb{R}^{1 \times n}$, $W \in \mathbb{R}^{n \times m}$, "
            r"$p = \mathrm{softmax}(x)$, $z = x W$, $s = \sigma(z)$."
            "\n\n$$\\frac{\\partial p}{\\partial x} = \\operatorname{diag}(p) - p^\\top p$$"
            "\n\n$$\\frac{\\partial z}{\\partial x} = W^\\top$$"
            "\n\n$$\\frac{\\partial z}{\\partial x} = W$$"
            "\n\n$$\\frac{\\partial s}{\\partial z} = \\operatorname{diag}(s \\circ (1 - s))$$"
            "\n\n$$\\frac{\\partial s}{\\partial z} = s \\circ (1 - s)$$\n")
    assert verdicts(text) == [(3, "pass"), (5, "pass"), (7, "fail"), (9, "pass"), (11, "pass")]
    transposed = check_writeup(text).checks[2].diagnosis
    assert transposed.kind == "transpose" and "one row per element of z" in transposed.message
