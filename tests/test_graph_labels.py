"""Graphs worth reading, checked in the SVG Graphviz draws (parsed as XML): what each box says,
how constants look, the loss value, the whole diagnosis, repeats grouped, and a layout that fits
a screen for every shipped derivation."""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite import report
from autograd_lite.graph import EXPRESSION_CHARS, SCREEN, render, to_dot
from autograd_lite.verify import verify_paths

SVG = "{http://www.w3.org/2000/svg}"
ROOT = Path(__file__).resolve().parent.parent


def boxes(path: Path) -> list[dict]:
    """Each drawn vertex: its lines of text, its outline colour and dash pattern."""
    found = []
    for group in ET.parse(path).getroot().iter(f"{SVG}g"):
        if group.get("class") != "node":
            continue
        shape = next(e for e in group if e.tag in (f"{SVG}path", f"{SVG}polygon"))
        found.append({"lines": [t.text or "" for t in group.iter(f"{SVG}text")],
                      "stroke": shape.get("stroke"), "dashed": shape.get("stroke-dasharray"),
                      "fill": shape.get("fill")})
    return found


def box(path: Path, first: str) -> dict:
    (found,) = [b for b in boxes(path) if b["lines"][0] == first]
    return found


def clusters(path: Path) -> list[str]:
    return [" ".join(t.text or "" for t in g.iter(f"{SVG}text"))
            for g in ET.parse(path).getroot().iter(f"{SVG}g") if g.get("class") == "cluster"]


def leaf(name: str, *shape: int, grad: bool = True, seed: int = 0) -> al.Tensor:
    data = np.random.default_rng(seed).standard_normal(shape)
    return al.Tensor(data, requires_grad=grad, name=name)


# ---------------------------------------------------------------- what each box computes
def test_unnamed_intermediates_say_what_they_compute(tmp_path) -> None:
    x, W1, b1 = leaf("x", 4, 3, grad=False), leaf("W1", 3, 2, seed=1), leaf("b1", 2, seed=2)
    h = al.sigmoid(x @ W1 + b1)
    loss = (h * h).sum()
    loss.backward()
    path = render(loss, tmp_path / "g.svg")
    first_lines = [b["lines"][0] for b in boxes(path)]
    for label in ("x·W1", "x·W1 + b1", "σ(x·W1 + b1)", "σ(x·W1 + b1) ∘ σ(x·W1 + b1)"):
        assert label in first_lines
    assert "intermediate" not in " ".join(first_lines)
    assert box(path, "output")["lines"][1] == "= sum(σ(x·W1 + b1) ∘ σ(x·W1 + b1))"


@pytest.mark.parametrize(("build", "label"), [
    (lambda a, b, c: (a + b) * c, "(a + b) ∘ c"),
    (lambda a, b, c: a - (b - c), "a − (b − c)"),
    (lambda a, b, c: (a - b) - c, "a − b − c"),
    (lambda a, b, c: a + (b + c), "a + b + c"),
    (lambda a, b, c: -(a @ b.T), "−(a·bᵀ)"),
    (lambda a, b, c: a / (b * c), "a / (b ∘ c)"),
    (lambda a, b, c: (a ** b) ** c, "(a^b)^c"),
    (lambda a, b, c: a ** (b ** c), "a^b^c"),
    (lambda a, b, c: (a + b).T, "(a + b)ᵀ"),
    (lambda a, b, c: a[1:3] * 2.5, "a[1:3] ∘ 2.5"),
    (lambda a, b, c: al.tanh(a - 1), "tanh(a − 1)"),
    (lambda a, b, c: al.softmax_cross_entropy(a, c), "CE(a, c)"),
])
def test_labels_read_as_the_math(tmp_path, build, label) -> None:
    a, b, c = leaf("a", 3, 3, seed=1), leaf("b", 3, 3, seed=2), leaf("c", 3, 3, seed=3)
    c.data = np.abs(c.data) / np.abs(c.data).sum(axis=1, keepdims=True)  # rows sum to 1
    a.data, b.data = np.abs(a.data) + 1, np.abs(b.data) + 1  # (positive bases for powers)
    out = build(a, b, c).sum()
    path = render(out, tmp_path / "g.svg")
    assert label in [b["lines"][0] for b in boxes(path)]


def test_labels_stay_short(tmp_path) -> None:
    x = leaf("x", 3)
    h = x
    for _ in range(30):
        h = al.tanh(h * 2 + 1)
    path = render(h, tmp_path / "g.svg")
    labels = [b["lines"][0] for b in boxes(path)] + [box(path, "output")["lines"][1]]
    assert max(len(label) for label in labels) <= EXPRESSION_CHARS + 2  # (+ "= ")
    assert any("…" in label for label in labels)


def test_settings_and_scalar_constants_are_in_the_label(tmp_path) -> None:
    x = leaf("x", 3, 4)
    out = al.sum(al.log_softmax(x * 2, axis=0), axis=1).sum()
    path = render(out, tmp_path / "g.svg")
    drawn = boxes(path)
    assert len(drawn) == 5  # x, x ∘ 2, log_softmax, the sum over axis 1, the sum: no box for 2
    assert box(path, "log_softmax(x ∘ 2)")["lines"][1] == "axis=0"
    assert box(path, "sum(log_softmax(x ∘ 2))")["lines"][1] == "axis=1"


# -------------------------------------------------------------------------- the leaves
def test_data_without_gradient_is_drawn_as_a_constant(tmp_path) -> None:
    X = leaf("X", 5, 3, grad=False)
    labels = al.Tensor(np.eye(4)[[0, 2, 1, 3, 0]], name="y")  # one-hot, no gradient
    W = leaf("W", 3, 4, seed=1)
    loss = al.softmax_cross_entropy(X @ W, labels)
    loss.backward()
    path = render(loss, tmp_path / "g.svg")
    for name in ("X", "y"):
        found = box(path, name)
        assert found["dashed"] and found["fill"] == "#eeeeee"
        assert "no gradient" in found["lines"][1] and "∇" not in " ".join(found["lines"])
    weights = box(path, "W")
    assert not weights["dashed"] and weights["fill"] == "#cfe2ff"
    assert f"{np.linalg.norm(W.grad):.6g}" in " ".join(weights["lines"])


def test_the_loss_value_is_on_the_output(tmp_path) -> None:
    X, W = leaf("X", 6, 3, grad=False), leaf("W", 3, 4, seed=1)
    targets = np.array([0, 3, 1, 1, 2, 0])
    loss = al.softmax_cross_entropy(X @ W, targets)
    loss.backward()
    logits = X.data @ W.data
    expected = np.mean(np.log(np.exp(logits).sum(axis=1)) - logits[np.arange(6), targets])
    path = render(loss, tmp_path / "g.svg")
    assert f"value = {expected:.4g}" in box(path, "output")["lines"]


# ---------------------------------------------------------------------- the diagnosis
def test_the_whole_diagnosis_is_visible(tmp_path) -> None:
    """All of a long reason is drawn (Graphviz drops tooltips), in a note beside the box."""
    W = leaf("W", 3, 3)
    loss = (W * W).sum()
    loss.backward()
    reason = ("FAIL W: " + " ".join(f"word{i}" for i in range(120)) + " the end.")
    path = render(loss, tmp_path / "g.svg", highlight={W: reason})
    (note,) = [b for b in boxes(path) if b["lines"][0].startswith("FAIL W")]
    assert " ".join(note["lines"]) == reason
    assert len(note["lines"]) > 4  # no cut after four lines
    assert box(path, "W")["stroke"] == "#e03131"


def test_failing_derivation_shows_its_diagnosis_in_full(tmp_path) -> None:
    (derivation,) = verify_paths([ROOT / "tests" / "derivation_files" / "wrong_sign.py"])[0]
    (check,) = [c for c in derivation.checks if not c.passed]
    path = render(derivation.loss, tmp_path / "g.svg",
                  highlight=report.failing_targets(derivation))
    text = " ".join(" ".join(b["lines"]) for b in boxes(path))
    assert " ".join(check.diagnosis.message.split()) in " ".join(text.split())


# ------------------------------------------------------------------------ the layout
def window_loss(words: list[int]) -> al.Tensor:
    """Σ_o log σ(U[o]·v): one repeat of three ops per outside word."""
    U, V = leaf("U", 7, 3), leaf("V", 7, 3, seed=1)
    v = V[3]
    total = 0.0
    for o in words:
        total = total - al.log(al.sigmoid(U[o] @ v))
    return total


def test_repeated_sub_graphs_are_grouped(tmp_path) -> None:
    path = render(window_loss([1, 5, 1, 0]), tmp_path / "g.svg")
    assert sorted(clusters(path)) == ["1 of 4", "2 of 4", "3 of 4", "4 of 4"]
    path = render(window_loss([1]), tmp_path / "one.svg")
    assert clusters(path) == []


def rankdir(tensor: al.Tensor) -> str:
    return re.search(r"rankdir=(\w+)", to_dot(tensor).source).group(1)


def test_layout_is_chosen_to_fit_a_screen() -> None:
    x = leaf("x", 3)
    deep = x
    for _ in range(8):
        deep = al.tanh(deep)
    assert rankdir(deep) == "TB"  # a narrow chain: top to bottom
    level = [al.exp(al.tanh(al.sigmoid(leaf(f"input_number_{i}", 3, seed=i))))
             for i in range(40)]
    while len(level) > 1:  # summed pairwise: a shallow tree
        level = [a + b for a, b in zip(level[::2], level[1::2])] + level[len(level) // 2 * 2:]
    assert rankdir(level[0]) == "LR"  # forty parallel chains: left to right


def png_size(path: Path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])


def test_every_shipped_graph_fits_a_screen(tmp_path) -> None:
    # the .py files: the writeups beside them (derivations/*.md) have no graph
    reports, errors = verify_paths(sorted((ROOT / "derivations").glob("*.py")))
    assert not errors and len(reports) >= 10
    for number, result in enumerate(reports):
        path = render(result.loss, tmp_path / f"{number}.png", title=result.name,
                      highlight=report.failing_targets(result))
        width, height = png_size(path)
        assert width <= SCREEN[0] and height <= SCREEN[1], (result.name, width, height)
