"""Properties of the writeup reader, against an independent evaluation.

Random arithmetic expressions are written out as LaTeX the way people write them (the fewest
parentheses that standard precedence needs: juxtaposition and ``\\cdot`` multiply, ``^`` binds
tightest, ``\\frac`` is a group) and evaluated here with NumPy from the same tree. The checker
must confirm ``E = value`` and reject ``E = value`` nudged by a relative 1e-6. And a random
polynomial's derivative, differentiated here by hand-coded rules, must be confirmed.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autograd_lite.writeup import check_writeup

LEAVES = st.sampled_from([1, 2, 3, 0.5, 1.5, 4])


def trees(depth: int = 3):
    leaf = LEAVES.map(lambda v: ("num", v))
    if depth == 0:
        return leaf
    sub = trees(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(st.sampled_from(["+", "-", "cdot", "juxt", "frac"]), sub, sub),
        st.tuples(st.sampled_from(["neg", "square", "sigma", "tanh", "exp"]), sub),
    )


def value(tree) -> float:
    kind = tree[0]
    if kind == "num":
        return float(tree[1])
    if kind in ("+", "-", "cdot", "juxt", "frac"):
        a, b = value(tree[1]), value(tree[2])
        return {"+": a + b, "-": a - b, "cdot": a * b, "juxt": a * b,
                "frac": a / (1 + b * b)}[kind]
    a = value(tree[1])
    return {"neg": -a, "square": a * a, "sigma": 1 / (1 + math.exp(-a)) if a > -700 else 0.0,
            "tanh": math.tanh(a), "exp": math.exp(min(a, 700))}[kind]


def latex(tree) -> str:
    kind = tree[0]
    if kind == "num":
        return f"{tree[1]}"
    if kind in ("+", "-"):
        right = latex(tree[2])
        if tree[2][0] in ("+", "-", "neg"):
            right = f"({right})"
        return f"{latex(tree[1])} {kind} {right}"
    if kind in ("cdot", "juxt"):
        left, right = (latex(t) if t[0] not in ("+", "-", "neg") else f"({latex(t)})"
                       for t in tree[1:])
        return f"{left} \\cdot {right}" if kind == "cdot" else f"{left} \\left({right}\\right)"
    if kind == "frac":
        return f"\\frac{{{latex(tree[1])}}}{{1 + \\left({latex(tree[2])}\\right)^{{2}}}}"
    inner = latex(tree[1])
    if kind == "neg":
        return f"\\left(-{inner if tree[1][0] not in ('+', '-') else '(' + inner + ')'}\\right)"
    if kind == "square":
        return f"\\left({inner}\\right)^2"
    return {"sigma": f"\\sigma({inner})", "tanh": f"\\tanh\\left({inner}\\right)",
            "exp": f"e^{{{inner}}}"}[kind]


def number(v: float) -> str:
    mantissa, exponent = f"{v:.17e}".split("e")
    return f"{mantissa} \\cdot 10^{{{int(exponent)}}}"


@settings(max_examples=40, deadline=None)
@given(trees())
def test_written_expressions_evaluate_as_read_by_people(tree):
    v = value(tree)
    assume(math.isfinite(v) and abs(v) < 1e8)
    text = latex(tree)
    right = check_writeup(f"$${text} = {number(v)}$$")
    assert right.error is None and not right.not_checked, (text, right.not_checked)
    assert [c.passed for c in right.checks] == [True], (text, v, right.checks)
    nudged = v * (1 + 1e-6) + 1e-6
    wrong = check_writeup(f"$${text} = {number(nudged)}$$")
    assert [c.passed for c in wrong.checks] == [False], (text, v)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(-4, 4), min_size=1, max_size=5), st.integers(0, 2))
def test_derivative_of_a_polynomial(coefficients, slip):
    """d/dx Σ c_k x^k = Σ k c_k x^(k-1), written out; a slip in one coefficient is caught."""
    terms = " + ".join(f"\\left({c}\\right) x^{{{k}}}" for k, c in enumerate(coefficients))
    derivative = [k * c for k, c in enumerate(coefficients)][1:] or [0]
    if slip and any(derivative):
        k = next(i for i, d in enumerate(derivative) if d)
        derivative[k] += slip
    formula = " + ".join(f"\\left({d}\\right) x^{{{k}}}" for k, d in enumerate(derivative))
    text = f"$x \\in \\mathbb{{R}}$, $f = {terms}$, $\\frac{{df}}{{dx}} = {formula}$."
    report = check_writeup(text)
    assert report.error is None and len(report.checks) == 1, report.not_checked
    expected = not (slip and any(k * c for k, c in enumerate(coefficients)))
    assert report.checks[0].passed is expected, (text, report.checks[0])
    assert np.isfinite(report.checks[0].tape_vs_numeric)
