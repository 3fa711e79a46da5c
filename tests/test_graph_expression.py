"""The Python-level entry points of graphs (the expression parser used as a library, `to_dot`,
`render`) have the same limits and clear errors as the command; random expressions, valid or
broken, give NumPy's answer or an ExpressionError, never another exception."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_lite as al
from autograd_lite.expression import (
    InputSpec,
    build,
    evaluate,
    parse,
    parse_inputs,
)
from autograd_lite.graph import EDGE_LIMIT, RENDER_LIMIT, render, to_dot

SPECS = parse_inputs(["x=3x4", "W=4x2", "v=4"])


# ------------------------------------------------------- right answer or a clear error
def leaf_expressions() -> st.SearchStrategy[str]:
    return st.sampled_from(["x", "W", "v", "x.T", "x[1]", "x[:, 1:3]", "v[0]", "x[-1, ::2]"])


def grow(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    unary = st.tuples(st.sampled_from(["tanh({})", "exp({})", "sigmoid({})", "-({})",
                                       "({}).sum()", "({}).mean()", "({}).T", "2 * ({})",
                                       "({}).sum(axis=0)", "({}).sum(axis=-1)", "({}) - 0.5",
                                       "({}).reshape(-1)", "({}).max()", "({})[0]"]), children)
    binary = st.tuples(st.sampled_from(["({}) + ({})", "({}) - ({})", "({}) * ({})",
                                        "({}) @ ({})", "({}) / (2 + ({}) ** 2)"]),
                       children, children)
    return st.one_of(unary.map(lambda t: t[0].format(t[1])),
                     binary.map(lambda t: t[0].format(t[1], t[2])))


EXPRESSIONS = st.recursive(leaf_expressions(), grow, max_leaves=8)


def numpy_value(expression: str, arrays: dict) -> np.ndarray:
    """NumPy evaluating the same text (a test may eval the strings it generated)."""
    namespace = {"tanh": np.tanh, "exp": np.exp, "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
                 **arrays}
    with np.errstate(all="ignore"):
        return np.asarray(eval(expression, {}, namespace), dtype=float)


@settings(max_examples=50, deadline=None)
@given(EXPRESSIONS, st.integers(0, 2), st.data())
def test_random_expressions_give_numpys_answer_or_a_clear_error(expression, damage, data) -> None:
    """Some expressions are damaged (a character replaced) on purpose. Undamaged ones that
    NumPy evaluates must evaluate here too, to the same values."""
    for _ in range(damage if expression else 0):
        at = data.draw(st.integers(0, len(expression) - 1))
        expression = expression[:at] + data.draw(st.sampled_from(["", "((", ")", "x", ",",
                                                                  "."])) + expression[at + 1:]
        if not expression:
            break
    try:
        with np.errstate(all="ignore"):
            evaluation = evaluate(expression, SPECS, seed=5)
    except al.ExpressionError as exc:
        # Refused: then NumPy must refuse it too, except an axis of a scalar (NumPy lets 0-d
        # reductions take axis 0 or -1; this library has no such axis to offer).
        if damage == 0 and "given for a scalar" not in str(exc):
            arrays = {k: np.random.default_rng(1).standard_normal(s.shape)
                      for k, s in SPECS.items()}
            with pytest.raises(Exception):  # noqa: B017 - (NumPy's own kind of error)
                numpy_value(expression, arrays)
        return
    arrays = {k: np.zeros(s.shape) for k, s in SPECS.items()}
    arrays.update({k: t.data for k, t in evaluation.inputs.items()})
    np.testing.assert_allclose(evaluation.output.data, numpy_value(expression, arrays),
                               rtol=1e-12, atol=1e-300)
    out = evaluation.output
    if out.requires_grad:
        with np.errstate(all="ignore"):
            out.backward(np.ones(out.shape))
    assert to_dot(out).source.startswith("digraph")  # and it draws


# --------------------------------------------------------------- the library's limits
@pytest.mark.parametrize(("expression", "phrase"), [
    ("x" + " + x" * 1_000, "nests deeper"), ("x" + ".T" * 10_000, "longer than"),
    ("-" * 10_000 + "x", "longer than"), ("x + " + "9" * 400, "number literal"),
    ("__import__('os')", "not a registered op"), (b"x", "is a string"), (None, "is a string")])
def test_parse_has_the_commands_limits(expression, phrase) -> None:
    with pytest.raises(al.ExpressionError, match=phrase) as info:
        parse(expression)
    assert len(str(info.value)) < 600


def test_build_budget_seed_and_specs() -> None:
    huge = {"x": InputSpec("x", (100_000, 100_000))}
    with pytest.raises(al.ExpressionError, match="budget"):
        build("x", huge)
    with pytest.raises(al.ExpressionError, match="budget of 10 elements"):
        build("x * 2", parse_inputs(["x=3x3"]), max_elements=10)
    out, inputs = build("x * 2", parse_inputs(["x=3x3"]), max_elements=18)
    np.testing.assert_array_equal(out.data, 2 * inputs["x"].data)
    for seed in (-1, 1.5, True, 2 ** 64):
        with pytest.raises(al.ExpressionError, match="seed"):
            build("x", parse_inputs(["x=3"]), seed=seed)
    for budget in (0, -5, 2.5):
        with pytest.raises(al.ExpressionError, match="budget"):
            build("x", parse_inputs(["x=3"]), max_elements=budget)
    with pytest.raises(al.ExpressionError, match="map each input name"):
        build("x", {"x": InputSpec("y", (3,))})
    with pytest.raises(al.ExpressionError, match="does not use any input"):
        build("2 * 3", {})


def test_input_spec_as_a_library() -> None:
    assert InputSpec.parse("x=20x10") == InputSpec("x", (20, 10))
    assert InputSpec.parse("c=scalar") == InputSpec("c", ())
    assert InputSpec.parse("y=20:int:10") == InputSpec("y", (20,), True, 10)
    assert InputSpec.parse("y=20:int") == InputSpec("y", (20,), True, None)
    for text in ("x=xxx", "x=4x0", "y=4:int:0", "x=" + "1x" * 40 + "1", 42):
        with pytest.raises(al.ExpressionError, match="--input"):
            InputSpec.parse(text)
    with pytest.raises(al.ExpressionError, match="twice"):
        parse_inputs(["x=3", "x=4"])


def test_integer_labels_are_in_range_and_seeded() -> None:
    _, inputs = build("softmax_cross_entropy(z, y)", parse_inputs(["z=50x7", "y=50:int"]),
                      seed=11)
    labels = inputs["y"].data
    assert labels.dtype.kind == "i" and labels.min() >= 0 and labels.max() < 7
    _, again = build("softmax_cross_entropy(z, y)", parse_inputs(["z=50x7", "y=50:int"]),
                     seed=11)
    np.testing.assert_array_equal(labels, again["y"].data)


def test_integer_inputs_as_indices_range_over_their_axis() -> None:
    """x[y] with labels y and no N: the labels fit axis 0 of x, and ∂Σx[y]/∂x counts how often
    each row is picked (repeats included)."""
    from autograd_lite.modes import retain_grads

    with retain_grads():
        out, inputs = build("x[y].sum() + x[:, z].sum()", parse_inputs(["x=5x3", "y=40:int",
                                                                       "z=7:int"]), seed=2)
        out.backward()
    y, z = inputs["y"].data, inputs["z"].data
    assert y.min() >= 0 and y.max() < 5 and z.min() >= 0 and z.max() < 3
    expected = np.bincount(y, minlength=5)[:, None] + np.bincount(z, minlength=3)[None, :]
    np.testing.assert_array_equal(inputs["x"].grad, expected)
    with pytest.raises(al.ExpressionError, match="do not fit the 5 rows of axis 0"):
        build("x[y]", parse_inputs(["x=5x3", "y=4:int:9"]))


# --------------------------------------------------------------------- to_dot and render
def chain() -> al.Tensor:
    x = al.Tensor(np.ones(3), requires_grad=True, name="x")
    return (al.tanh(x) * 2).sum()


@pytest.mark.parametrize(("kwargs", "phrase"), [
    ({"max_depth": 0}, "max_depth"), ({"max_depth": 2.5}, "max_depth"),
    ({"max_depth": True}, "max_depth"), ({"highlight": ["x"]}, "highlight"),
    ({"title": 3}, "title")])
def test_to_dot_checks_its_arguments(kwargs, phrase) -> None:
    with pytest.raises(al.GraphError, match=phrase):
        to_dot(chain(), **kwargs)
    with pytest.raises(al.GraphError, match="expected a Tensor"):
        to_dot(np.ones(3))


def test_render_refuses_a_folder_it_may_not_write(tmp_path, monkeypatch) -> None:
    """(The suite may run as root, whom permissions do not stop: the check is made to see a
    folder without write permission.)"""
    monkeypatch.setattr("autograd_lite.graph.os.access", lambda path, mode: False)
    with pytest.raises(al.GraphError, match="no permission to write in"):
        render(chain(), tmp_path / "sub" / "g.svg")
    assert not (tmp_path / "sub").exists()


def test_render_checks_the_path(tmp_path) -> None:
    a_file = tmp_path / "f"
    a_file.write_text("")
    for path, phrase in [(tmp_path, "is a folder"), (a_file / "g.svg", "not a folder"),
                         (tmp_path / ("n" * 300 + ".svg"), "too long"),
                         (tmp_path / "g.gif", "unknown format"), (3, "string or a Path"),
                         ("", "not a file name")]:
        with pytest.raises(al.GraphError, match=phrase):
            render(chain(), path)


def many_edges(layers: int) -> al.Tensor:
    """Each value the total of all before it: few vertices, about layers²/2 edges."""
    total = al.register_op("test_total", lambda *xs: np.sum(xs, axis=0),
                           lambda g, out, *xs: tuple(g for _ in xs))
    values = [al.Tensor(np.ones(2), requires_grad=True, name="x")]
    for _ in range(layers):
        values.append(total(*values))
    return values[-1]


def test_render_limits_vertices_and_edges(tmp_path) -> None:
    dense = many_edges(150)  # 151 vertices, 1 + 2 + … + 150 = 11,325 edges
    start = time.perf_counter()
    with pytest.raises(al.GraphError, match=f"11,325 edges.*{EDGE_LIMIT:,} edges"):
        render(dense, tmp_path / "dense.svg")
    assert time.perf_counter() - start < 10  # refused before Graphviz is run
    render(dense, tmp_path / "dense.dot")  # the DOT text has no limit
    h = al.Tensor(np.ones(2), requires_grad=True)
    for _ in range(RENDER_LIMIT + 5):
        h = al.tanh(h)
    with pytest.raises(al.GraphError, match="vertices"):
        render(h, tmp_path / "long.svg")


def test_one_op_using_a_value_20000_times_is_one_edge(tmp_path) -> None:
    """(The 3-vertex, 20,000-edge graph: parallel edges are drawn once, with a count.)"""
    total = al.register_op("test_total", lambda *xs: np.sum(xs, axis=0),
                           lambda g, out, *xs: tuple(g for _ in xs))
    x = al.Tensor(np.ones(2), requires_grad=True, name="x")
    y = total(*[x] * 20_000).sum()
    y.backward()
    source = to_dot(y).source
    assert source.count("->") == 2 and 'label="×20000"' in source
    render(y, tmp_path / "g.svg")
    np.testing.assert_array_equal(x.grad, [20_000.0, 20_000.0])


def test_long_names_and_titles_stay_under_graphvizs_label_limit(tmp_path) -> None:
    x = al.Tensor(np.ones(2), requires_grad=True, name="n" * 20_000)
    y = (x * 2).sum()
    y.name = "\\" * 20_000  # escapes lengthen it thirteen-fold
    y.backward()
    render(y, tmp_path / "g.svg", highlight={x: "r" * 50_000}, title="t" * 30_000)
    assert (tmp_path / "g.svg").stat().st_size < 200_000


def test_the_limits_are_documented() -> None:
    from autograd_lite import expression, graph

    page = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    for value in (expression.MAX_LENGTH, expression.MAX_NESTING, expression.MAX_LITERAL_CHARS,
                  expression.MAX_STRING_CHARS, expression.MAX_AXES, expression.MAX_NAME_CHARS,
                  expression.MAX_DIGITS, expression.DEFAULT_MAX_ELEMENTS, graph.RENDER_LIMIT,
                  graph.EDGE_LIMIT, graph.RENDER_SECONDS, graph.NAME_CHARS,
                  graph.EXPRESSION_CHARS, graph.TITLE_CHARS, graph.NOTE_CHARS):
        assert f"{value:,}" in page, value


@pytest.mark.parametrize(("expression", "expected"), [
    ("expand_dims(x, axis=0)", lambda x: np.expand_dims(x, 0)),
    ("roll(x, shift=1)", lambda x: np.roll(x, 1)),
    ("tile(x, reps=2)", lambda x: np.tile(x, 2)),
    ("repeat(x, repeats=2)", lambda x: np.repeat(x, 2)),
    ("swapaxes(x.reshape(3, 2), axis1=0, axis2=1)", lambda x: x.reshape(3, 2).T),
    ("clip(x, -0.5, 0.5)", lambda x: np.clip(x, -0.5, 0.5)),
])
def test_expressions_take_the_settings_the_ops_take(expression, expected) -> None:
    """An expression's op takes the settings its registration takes (one signature, the op's)."""
    out, inputs = build(expression, parse_inputs(["x=6"]))
    np.testing.assert_array_equal(out.data, expected(inputs["x"].data))


def test_a_required_setting_and_an_unknown_one_are_refused_with_the_signature() -> None:
    with pytest.raises(al.ExpressionError, match="reshape needs shape="):
        parse("reshape(x)")
    with pytest.raises(al.ExpressionError, match=r"roll has no setting 'shfit'.*did you mean"):
        parse("roll(x, shfit=1)")
