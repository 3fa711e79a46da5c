"""Hostile writeups: nothing is ever included, defined, expanded or executed, and size and
nesting are bounded (refused or cut short quickly, never a hang, never a raw traceback)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from autograd_lite.errors import AutogradLiteError
from autograd_lite.writeup import WriteupError, check_writeup
from autograd_lite.writeup.extract import MAX_BYTES


def reasons(report) -> str:
    return " ".join(item["reason"] for item in report.not_checked)


@pytest.mark.parametrize("text", [
    r"$x = \input{/etc/passwd}$",
    "\\input{/etc/passwd}\n\n$y = 1$",
    r"$\include{/etc/passwd} = 1$",
])
def test_input_is_refused_and_nothing_is_read(text):
    report = check_writeup(text)
    assert report.error is None
    assert "\\input is refused" in reasons(report) or "\\include is refused" in reasons(report)
    dumped = json.dumps(report.to_json(), ensure_ascii=False)
    assert "root:" not in dumped  # the contents of /etc/passwd never appear


@pytest.mark.parametrize("text, command", [
    (r"$\def\x{y} \x = 1$", "\\def"),
    (r"$\newcommand{\x}{y} x = 1$", "\\newcommand"),
    (r"$\renewcommand{\sigma}{\tanh} \sigma(x) = \tanh(x)$", "\\renewcommand"),
    (r"$\write18{touch pwned} = 1$", "\\write"),
    (r"$\csname sigma\endcsname(x) = 1$", "\\csname"),
])
def test_macro_definitions_are_refused(text, command):
    report = check_writeup(text)
    assert report.error is None and report.checks == []
    assert f"{command} is refused" in reasons(report)


def test_macros_defined_in_prose_are_not_expanded(tmp_path: Path):
    text = ("\\documentclass{article}\\begin{document}\n\\def\\s{\\tanh}\n"
            "$\\s(x) = \\tanh(x)$\n\\end{document}\n")
    path = tmp_path / "macro.tex"
    path.write_text(text)
    report = check_writeup(path)
    assert report.checks == []
    assert "\\def is refused" in reasons(report)
    assert "\\s is not part of the math language" in reasons(report)


def test_python_in_the_math_is_never_run(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = "$x = __import__('os').system('touch pwned')$ and $$y = eval(\"1\")$$"
    report = check_writeup(text)
    assert report.error is None
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("text", [
    "$x = " + "(" * 5_000 + "y" + ")" * 5_000 + "$",
    "$x = " + "{" * 5_000 + "y" + "}" * 5_000 + "$",
    "$x = " + "\\frac{1}{" * 2_000 + "y" + "}" * 2_000 + "$",
    "$x = " + "\\sigma(" * 3_000 + "y" + ")" * 3_000 + "$",
    "$x = " + "-" * 5_000 + "y$",
])
def test_deep_nesting_is_bounded(text):
    start = time.perf_counter()
    report = check_writeup(text)
    assert time.perf_counter() - start < 5
    assert report.error is None and report.checks == []
    assert report.not_checked  # listed, with a reason, not a crash


def test_unbalanced_and_garbled_math_is_not_checked():
    for text in ("$x = (y$", "$x = }y{$", "$= = =$", "$x = \\frac{1}$", "$x = y^$",
                 "$$\\begin{align} x &= \\end{align}$$", "$x = \\left( y$"):
        report = check_writeup(text)
        assert report.error is None and not any(c.passed for c in report.checks), text


def test_a_ten_megabyte_text_is_refused_quickly(tmp_path: Path):
    text = "# big\n" + "$x = y$ and prose. " * (10_000_000 // 19)
    start = time.perf_counter()
    with_text = check_writeup(text)
    path = tmp_path / "big.md"
    path.write_text(text)
    with_path = check_writeup(path)
    assert time.perf_counter() - start < 5
    for report in (with_text, with_path):
        assert report.error is not None and str(MAX_BYTES) in report.error


def test_many_equations_are_bounded():
    text = "\n".join(f"$a_{{{k}}} = {k}$" for k in range(5_000))
    start = time.perf_counter()
    report = check_writeup(text)
    assert time.perf_counter() - start < 30
    assert "more than" in reasons(report)


def test_huge_sizes_are_refused():
    report = check_writeup(r"$x \in \mathbb{R}^{1 \times D}$, $J = \sum x$, $\nabla_x J = x$.",
                           dims={"D": 10**7})
    assert report.error is not None and "sizes are limited" in report.error


def test_errors_are_autograd_lite_errors(tmp_path: Path):
    assert issubclass(WriteupError, AutogradLiteError)
    report = check_writeup(tmp_path / "missing.md")
    assert report.error is not None and "cannot read" in report.error
    binary = tmp_path / "binary.md"
    binary.write_bytes(b"\xff\xfe\x00$x = 1$")
    assert "UTF-8" in check_writeup(binary).error


def test_work_is_bounded():
    text = (r"$x \in \mathbb{R}^{1 \times N}$, "
            r"$J = \sum_{i=1}^{N} \sum_{j=1}^{N} \sum_{k=1}^{N} \sum_{l=1}^{N} x_i x_j x_k x_l$,"
            r" $\nabla_x J = 4 (\sum x)^3$.")
    start = time.perf_counter()
    report = check_writeup(text, dims={"N": 60})
    assert time.perf_counter() - start < 30
    assert report.checks == [] and "too much work" in reasons(report)
    huge = check_writeup(r"$\sum_{i=1}^{1000000000} 1 = 1000000000$")
    assert huge.checks == [] and "not a size" in reasons(huge)


def test_the_work_of_a_whole_writeup_is_bounded(monkeypatch):
    from autograd_lite.writeup import model

    monkeypatch.setattr(model, "MAX_TOTAL_STEPS", 40_000)  # the mechanism, at a test's speed
    link = (r"$x \in \mathbb{R}^{1 \times N}$, $J = \sum_{i=1}^{N} \sum_{j=1}^{N} x_i x_j$, "
            r"$\nabla_x J = 2 x$.")
    text = "\n\n".join([link] * 60)
    start = time.perf_counter()
    report = check_writeup(text, dims={"N": 40})
    assert time.perf_counter() - start < 60
    assert "work budget" in reasons(report)


def test_definitions_that_need_themselves_are_listed_not_checked() -> None:
    """a = b + x, b = a + x: every line that needs them is listed with the reason, nothing
    recurses without end and nothing passes."""
    from autograd_lite.writeup import check_writeup

    text = ("$x \\in \\mathbb{R}^{1 \\times 3}$.\n\n"
            "$$a = b + x, \\qquad b = a + x, \\qquad J = \\sum_i a_i$$\n\n"
            "$$\\frac{\\partial J}{\\partial x} = 2 x$$\n")
    report = check_writeup(text)
    assert report.checks == []
    reasons = [entry["reason"] for entry in report.not_checked]
    assert len(reasons) == 4 and all("is defined in terms of itself" in r for r in reasons)
