"""Graphs: real SVGs from the system `dot`, parsed as XML; determinism; escaping of hostile
names; the missing-`dot` error; the CLI's expression whitelist."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite.cli import main
from autograd_lite.graph import RENDER_LIMIT, render, to_dot

SVG = "{http://www.w3.org/2000/svg}"


def svg_counts(path) -> tuple[int, int, str]:
    root = ET.parse(path).getroot()
    groups = root.iter(f"{SVG}g")
    classes = [g.get("class") for g in groups]
    text = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    return classes.count("node"), classes.count("edge"), text


def small_net():
    rng = np.random.default_rng(0)
    x = al.Tensor(rng.standard_normal((4, 3)), name="x")
    W1 = al.Tensor(rng.standard_normal((3, 2)), requires_grad=True, name="W1")
    b1 = al.Tensor(rng.standard_normal(2), requires_grad=True, name="b1")
    with al.retain_grads():
        h = al.sigmoid(x @ W1 + b1)
        h.name = "h"
        loss = al.softmax_cross_entropy(h, np.array([0, 1, 1, 0]))
    loss.backward()
    return loss, W1, h


def test_svg_matches_the_recorded_graph(tmp_path) -> None:
    loss, W1, h = small_net()
    path = render(loss, tmp_path / "net.svg")
    nodes, edges, text = svg_counts(path)
    # one box per op (matmul, add, sigmoid, softmax_cross_entropy), plus x, W1, b1 and the
    # labels constant; an edge per operand
    assert (nodes, edges) == (8, 7)
    for expected in ("x·W1", "x·W1 + b1", "σ(x·W1 + b1)", "CE(h, constant)", "W1", "h",
                     "(4, 2)", "reduction=mean", "int64"):
        assert expected in text
    assert f"{np.linalg.norm(W1.grad):.6g}" in text  # W1's gradient norm
    assert f"{np.linalg.norm(h.grad):.6g}" in text  # a retained intermediate's gradient norm
    assert "∇ = 1" in text  # the scalar output shows its gradient's value
    assert f"value = {float(loss.data):.4g}" in text  # and its own value


def test_highlighted_nodes_are_red_with_their_reason(tmp_path) -> None:
    loss, W1, _ = small_net()
    path = render(loss, tmp_path / "net.svg", highlight={W1: "wrong sign"})
    content = path.read_text()
    assert "#e03131" in content and "wrong sign" in content


def test_same_expression_gives_the_same_dot() -> None:
    first = to_dot(small_net()[0]).source
    second = to_dot(small_net()[0]).source
    assert first == second


@pytest.mark.parametrize("name", ['quote " here', "<b>bold</b> & co", "{braces}", "line\nbreak",
                                 'x"] ; evil [label="pwned', "back\\slash \\N \\G", "trail\\"])
def test_hostile_names_cannot_break_or_inject(tmp_path, name) -> None:
    x = al.Tensor([1.0, 2.0], requires_grad=True, name=name)
    y = (x * 2).sum()
    y.name = name
    y.backward()
    source = to_dot(y).source
    assert "pwned" not in source or "&quot;pwned" in source
    path = render(y, tmp_path / "h.svg")
    nodes, edges, text = svg_counts(path)
    assert (nodes, edges) == (3, 2)  # x, x ∘ 2 (the 2 is in its label), the sum
    visible = name.replace("\n", "\\x0a")
    assert visible in text  # shown literally, not interpreted


def test_missing_dot_gives_a_clear_error(tmp_path, monkeypatch) -> None:
    loss = small_net()[0]
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(al.GraphvizNotFoundError, match=r"apt-get install graphviz.*to_dot"):
        render(loss, tmp_path / "x.svg")
    render(loss, tmp_path / "x.dot")  # the DOT text needs no Graphviz
    assert (tmp_path / "x.dot").read_text().startswith("digraph")


@pytest.mark.parametrize("suffix", [".svg", ".png", ".pdf", ".dot"])
def test_formats_from_suffix(tmp_path, suffix) -> None:
    path = render(small_net()[0], tmp_path / f"g{suffix}")
    head = path.read_bytes()[:8]
    assert head.startswith({".svg": b"<?xml", ".png": b"\x89PNG", ".pdf": b"%PDF",
                            ".dot": b"digraph"}[suffix])


def test_large_graph_builds_and_render_asks_for_a_depth(tmp_path) -> None:
    """(How fast the DOT text is built is measured in bench/, never asserted here.)"""
    x = al.Tensor(np.ones(2), requires_grad=True)
    h = x
    for _ in range(10_000):
        h = al.tanh(h)
    source = to_dot(h).source
    assert source.count("[label=") == 10_001  # x and one box per op
    with pytest.raises(al.GraphError, match="max_depth"):
        render(h, tmp_path / "big.svg")
    render(h, tmp_path / "top.svg", max_depth=5)
    nodes, _, text = svg_counts(tmp_path / "top.svg")
    assert nodes < 20 and "max_depth" in text
    assert RENDER_LIMIT < 10_001


# ------------------------------------------------------------------------------------ CLI
NET = "softmax_cross_entropy(sigmoid(x @ W1 + b1) @ W2 + b2, y)"
NET_INPUTS = ["--input", "x=20x10", "--input", "W1=10x5", "--input", "b1=5",
              "--input", "W2=5x10", "--input", "b2=10", "--input", "y=20:int"]


def test_cli_graph_renders_an_expression(tmp_path, capsys) -> None:
    out = tmp_path / "net.svg"
    assert main(["graph", NET, *NET_INPUTS, "-o", str(out)]) == 0
    nodes, edges, text = svg_counts(out)
    assert (nodes, edges) == (12, 11)  # 6 ops, 6 inputs
    assert "∇" in text and "(20, 10)" in text and "int64" in text


@pytest.mark.parametrize("expression", [
    "__import__('os').system('touch /tmp/pwned')", "x.__class__", "x.data", "lambda: 1",
    "[a for a in x]", "(lambda q: q)(x)", "open('f')", "x if x else x", "{'a': x}",
    "exec('1')", "x; y", "'text'", "sum(x, axis=__import__('os'))", "x[x.__len__]"])
def test_cli_graph_never_evaluates_code(expression, tmp_path, capsys) -> None:
    marker = tmp_path / "pwned"
    status = main(["graph", expression.replace("/tmp/pwned", str(marker)), "--input", "x=3",
                   "--input", "y=3", "-o", str(tmp_path / "g.svg")])
    assert status == 2 and not marker.exists()
    assert "Allowed:" in capsys.readouterr().err


def test_cli_graph_unknown_names_and_ops(capsys, tmp_path) -> None:
    assert main(["graph", "foo(x)", "--input", "x=3", "-o", str(tmp_path / "g.svg")]) == 2
    assert "'foo' is not a registered op" in capsys.readouterr().err
    assert main(["graph", "x + z", "--input", "x=3", "-o", str(tmp_path / "g.svg")]) == 2
    assert "'z' has no --input" in capsys.readouterr().err


@pytest.mark.parametrize("command", [
    [str(Path(sys.executable).parent / "autograd-lite")],
    [sys.executable, "-m", "autograd_lite"],
    [sys.executable, "-m", "autograd_lite.cli"],
], ids=["console-script", "python-m-package", "python-m-cli"])
def test_cli_entry_point_is_installed(command) -> None:
    """The console script beside the interpreter running the tests (the venv's bin), and
    ``python -m``: none depends on the caller's PATH."""
    result = subprocess.run([*command, "ops"], capture_output=True, text=True, check=True,
                            env={**os.environ, "PATH": os.defpath})
    assert "softmax_cross_entropy" in result.stdout
