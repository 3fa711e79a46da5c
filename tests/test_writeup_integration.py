"""Writeups inside the verifier: ``autograd-lite verify`` on .md/.tex files and on folders
mixing them with .py derivation files (exit status, loader guarantees, --dim, --convention),
the --json document (schema 3), the text table, the Markdown and HTML reports, and
``autograd_lite.verify.check_writeup`` judging a writeup exactly as a derivation file is judged
(the same core: element-wise, scale-free, kinks)."""

from __future__ import annotations

import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite.cli import main
from autograd_lite.verify import Derivation, check_writeup, verify, verify_paths

ROOT = Path(__file__).resolve().parent.parent
STUDENTS = Path(__file__).parent / "writeups"

RIGHT = """# Sigmoid layer, right

$x \\in \\mathbb{R}^{1 \\times D}$, $W \\in \\mathbb{R}^{D \\times H}$.

$$h = \\sigma(x W), \\quad J = \\sum h$$

$$\\frac{\\partial J}{\\partial W} = x^\\top (h \\circ (1 - h))$$

A line the reader cannot check: $\\frac{\\partial J}{\\partial x} = \\operatorname{mystery}(W)$.
"""

WRONG = """Sigmoid layer, wrong (no heading: the file name names it).

$x \\in \\mathbb{R}^{1 \\times D}$, $W \\in \\mathbb{R}^{D \\times H}$.

$$h = \\sigma(x W), \\quad J = \\sum h$$

$$\\frac{\\partial J}{\\partial W} = -x^\\top (h \\circ (1 - h))$$
"""

PY = '''import numpy as np
from autograd_lite import Tensor
from autograd_lite.verify import Derivation

square = Derivation(
    name="square",
    inputs={"x": np.array([1.0, -2.0, 0.5])},
    loss=lambda x: (x * x).sum(),
    gradients={"x": lambda x: 2 * x},
)
'''


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        status = main(["verify", *argv])
    except SystemExit as exc:  # argparse refuses an option's value
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def strict(text: str) -> dict:
    def refuse(name: str) -> None:
        raise AssertionError(f"not strict JSON: {name}")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "layer.md").write_text(RIGHT, encoding="utf-8")
    (tmp_path / "square.py").write_text(PY, encoding="utf-8")
    return tmp_path


def line_of(path: Path, needle: str) -> int:
    """The 1-based line of the file holding ``needle`` (found independently of the reader)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    (number,) = [i for i, line in enumerate(lines, 1) if needle in line]
    return number


# ------------------------------------------------------------------------------ CLI and JSON
def test_a_folder_mixing_a_writeup_and_a_derivation_file(folder: Path, capsys) -> None:
    status, out, _ = run(capsys, str(folder), "--json")
    assert status == 0
    document = strict(out)
    assert document["schema"] == 3 and document["passed"] is True
    kinds = [(d["kind"], d["name"]) for d in document["derivations"]]
    assert kinds == [("writeup", "Sigmoid layer, right"), ("derivation", "square")]
    writeup = document["derivations"][0]
    assert writeup["file"] == str(folder / "layer.md") and writeup["outcome"] == "pass"
    (check,) = writeup["checks"]
    assert check["line"] == line_of(folder / "layer.md", "x^\\top (h \\circ")
    assert check["latex"].replace(" ", "") == \
        "\\frac{\\partialJ}{\\partialW}=x^\\top(h\\circ(1-h))"
    assert check["kind"] == "gradient" and check["outcome"] == "pass"
    assert {"worst", "kinks", "reason", "tape_vs_numeric"} <= set(check)
    (skipped,) = writeup["not_checked"]
    assert skipped["line"] == line_of(folder / "layer.md", "mystery")
    assert "mystery" in skipped["latex"] and "not a known function" in skipped["reason"]
    assert writeup["sizes"] and writeup["convention"] == "row" and writeup["draws"] >= 2
    assert document["counts"]["writeups"] == 1 and document["counts"]["not_checked"] == 1
    assert document["counts"]["derivations"] == 2 and document["counts"]["checks"] == 2


def test_a_wrong_writeup_fails_with_exit_1_named_by_its_file(folder: Path, capsys) -> None:
    (folder / "wrong.md").write_text(WRONG, encoding="utf-8")
    status, out, _ = run(capsys, str(folder), "--json")
    assert status == 1
    document = strict(out)
    wrong = next(d for d in document["derivations"] if d["file"].endswith("wrong.md"))
    assert wrong["name"] == "wrong" and wrong["outcome"] == "fail"
    (check,) = wrong["checks"]
    assert check["passed"] is False and check["diagnosis"]["kind"] == "sign"
    assert check["line"] == line_of(folder / "wrong.md", "-x^\\top")


def test_the_table_shows_lines_and_what_was_not_checked(folder: Path, capsys) -> None:
    status, out, _ = run(capsys, str(folder / "layer.md"))
    assert status == 0
    number = line_of(folder / "layer.md", "mystery")
    assert f"not checked, line {number}:" in out
    gradient = line_of(folder / "layer.md", "x^\\top (h")
    assert f"l.{gradient} ∂J/∂W" in out
    assert "1 writeup equation(s) not checked" in out


def test_dims_are_used_and_validated(folder: Path, capsys) -> None:
    status, out, _ = run(capsys, str(folder / "layer.md"), "--json", "--dim", "D=7",
                         "--dim", "H=2")
    assert status == 0 and strict(out)["derivations"][0]["sizes"] == {"D": 7, "H": 2}
    for bad in ("D=0", "D=-3", "D=x", "D", "=4", "D=65"):
        status, out, err = run(capsys, str(folder / "layer.md"), "--dim", bad)
        assert status == 2 and "--dim" in err and "Traceback" not in err and out == ""
    status, _, err = run(capsys, str(folder / "layer.md"), "--dim", "D=3", "--dim", "D=4")
    assert status == 2 and "given twice" in err
    report = check_writeup(folder / "layer.md", dims={"D": 0})
    assert report.error is not None and "from 1 to 64" in report.error and not report.checks


def test_the_convention_is_a_choice(tmp_path: Path, capsys) -> None:
    column = tmp_path / "column.md"
    column.write_text("$W \\in \\mathbb{R}^{H \\times D}$, $h = \\sigma(W x)$, $J = \\sum h$, "
                      "$\\frac{\\partial J}{\\partial x} = W^\\top (h \\circ (1 - h))$\n",
                      encoding="utf-8")
    status, out, _ = run(capsys, str(column), "--json", "--convention", "column")
    assert status == 0 and strict(out)["derivations"][0]["convention"] == "column"
    status, out, _ = run(capsys, str(column), "--json")  # row vectors: W x does not fit
    (check,) = strict(out)["derivations"][0]["checks"]
    assert status == 1 and check["diagnosis"]["kind"] == "shape"
    status, _, err = run(capsys, str(column), "--convention", "diagonal")
    assert status == 2 and "Traceback" not in err


# ------------------------------------------------------------------------------ loading
def test_a_fifo_named_md_is_refused_without_opening_and_the_others_checked(folder: Path,
                                                                           capsys) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.fail("this platform has no FIFOs")  # the suite runs on Linux
    os.mkfifo(folder / "pipe.md")
    status, out, _ = run(capsys, str(folder), "--json")  # would block if opened
    document = strict(out)
    assert status == 2
    assert any("pipe.md" in e and "FIFO" in e for e in document["errors"])
    assert {d["name"] for d in document["derivations"] if d["outcome"] == "pass"} == \
        {"Sigmoid layer, right", "square"}


def test_a_writeup_that_is_not_utf8_is_an_error_for_that_file(folder: Path, capsys) -> None:
    (folder / "latin1.md").write_bytes("$x = \u00e9$\n".encode("latin-1"))
    status, out, _ = run(capsys, str(folder), "--json")
    document = strict(out)
    assert status == 2
    (error,) = document["errors"]
    assert error.startswith(str(folder / "latin1.md")) and "UTF-8" in error
    assert sum(d["outcome"] == "pass" for d in document["derivations"]) == 2


def test_a_folder_of_writeups_only_has_derivations(tmp_path: Path, capsys) -> None:
    shutil.copy(STUDENTS / "right_chain.md", tmp_path / "a.md")
    shutil.copy(STUDENTS / "layer.tex", tmp_path / "b.tex")
    status, out, _ = run(capsys, str(tmp_path), "--json")
    document = strict(out)
    assert status == 0 and document["errors"] == []
    assert [Path(d["file"]).name for d in document["derivations"]] == ["a.md", "b.tex"]


def test_a_readme_without_math_is_passed_over_in_a_folder_but_not_when_named(
        folder: Path, capsys) -> None:
    (folder / "README.md").write_text("# Notes\n\nNothing to check here.\n", encoding="utf-8")
    status, out, _ = run(capsys, str(folder), "--json")
    assert status == 0 and len(strict(out)["derivations"]) == 2
    status, out, _ = run(capsys, str(folder / "README.md"))
    assert status == 2 and "no equations found" in out


def test_a_writeup_has_the_time_limit(folder: Path) -> None:
    reports, errors = verify_paths([folder / "layer.md"], timeout=1e-6)
    (report,) = reports
    assert report.timed_out and report.outcome == "timeout"
    assert errors and "layer.md" in errors[0] and "--timeout" in errors[0]


# ------------------------------------------------------------------------------ reports
def test_the_markdown_report_marks_each_equation_and_shows_the_math_once(folder: Path,
                                                                         capsys) -> None:
    (folder / "square.py").write_text(PY.replace('gradients={"x": lambda x: 2 * x},',
                                                 'gradients={"x": lambda x: 2 * x},\n'
                                                 '    source="layer.md",'), encoding="utf-8")
    (folder / "wrong.md").write_text(WRONG, encoding="utf-8")
    status, _, _ = run(capsys, str(folder), "--report", str(folder / "out"))
    assert status == 1
    text = (folder / "out" / "README.md").read_text(encoding="utf-8")
    assert "## Sigmoid layer, right" in text and "## wrong" in text and "## square" in text
    assert "✅ passed" in text and "❌ failed" in text and "[sign]" in text
    assert "⚪ not checked" in text and "'mystery' is not a known function" in text
    assert text.count("# Sigmoid layer, right") == 1  # the source is not pasted again
    assert "`layer.md`, checked as written in its own section" in text


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.section: str | None = None
        self.maths: dict[str, int] = {}
        self.classes: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        if tag == "section":
            self.section = a.get("id")
            self.classes[self.section or ""] = a.get("class") or ""
            self.maths[self.section or ""] = 0
        if tag == "math" and self.section:
            self.maths[self.section] += 1


def formulas(markdown: str) -> int:
    """How many $…$ and $$…$$ a Markdown text holds (independently of the renderer)."""
    text = re.sub(r"`[^`\n]*`", "", markdown)
    display = len(re.findall(r"\$\$(.+?)\$\$", text, re.S))
    return display + len(re.findall(r"\$(.+?)\$", re.sub(r"\$\$(.+?)\$\$", "", text,
                                                           flags=re.S), re.S))


def test_the_html_report_marks_each_equation(folder: Path, capsys) -> None:
    (folder / "wrong.md").write_text(WRONG, encoding="utf-8")
    run(capsys, str(folder), "--report", str(folder / "out"))
    text = (folder / "out" / "index.html").read_text(encoding="utf-8")
    page = Page()
    page.feed(text)
    assert all(link[1:] in page.ids for link in page.links if link.startswith("#"))
    writeups = [s for s, c in page.classes.items() if "writeup" in c.split()]
    assert len(writeups) == 2 and len(page.classes) == 3
    right = next(s for s in writeups if s.startswith("sigmoid-layer-right"))
    # every formula of the file, once, as MathML
    assert page.maths[right] == formulas(RIGHT)
    section = text[text.index(f'<section id="{right}"'):]
    section = section[:section.index("</section>")]
    assert section.count('<li class="pass"><b>✔ passed</b>') == 1
    assert section.count('<li class="skip"><b>○ not checked</b>') == 1
    assert "not checked: &#x27;mystery&#x27; is not a known function" in section
    wrong = section_of(text, next(s for s in writeups if s != right))
    assert '<li class="fail"><b>✘ failed</b>' in wrong and "[sign]" in wrong
    assert "<merror" not in text


def section_of(text: str, anchor: str) -> str:
    section = text[text.index(f'<section id="{anchor}"'):]
    return section[:section.index("</section>")]


def test_the_shipped_catalogue_verifies_writeups_and_files(capsys, tmp_path: Path) -> None:
    status, out, _ = run(capsys, str(ROOT / "derivations"), "--json")
    document = strict(out)
    assert status == 0 and document["errors"] == []
    md = sorted(p.name for p in (ROOT / "derivations").glob("*.md"))
    py = {p.resolve() for p in (ROOT / "derivations").glob("*.py")}
    assert sorted(Path(d["file"]).name for d in document["derivations"]
                  if d["kind"] == "writeup") == md
    assert {Path(d["file"]).resolve() for d in document["derivations"]
            if d["kind"] == "derivation"} == py


# ------------------------------------------------------------------------------ one core
def sigmoid_writeup(scale: str, factor: str) -> str:
    return (f"$x \\in \\mathbb{{R}}^{{1 \\times 4}}$, $J = {scale} \\sum \\sigma(x)$, "
            f"$\\frac{{\\partial J}}{{\\partial x}} = {scale} \\cdot {factor} \\sigma(x) \\circ "
            "(1 - \\sigma(x))$.")


@pytest.mark.parametrize("scale, value", [("10^{-13}", 1e-13), ("1", 1.0), ("10^{13}", 1e13)])
@pytest.mark.parametrize("factor", ["1", "1.000001", "0.999999", "2"])
def test_a_writeup_gets_the_verdict_of_the_same_derivation_file(scale: str, value: float,
                                                                factor: str) -> None:
    """The same formula as a writeup and as a Derivation: the same verdict, at any scale of
    the loss (the old normwise judging passed a 1e-6 error in a loss of size 1e-13)."""
    (check,) = check_writeup(sigmoid_writeup(scale, factor)).checks
    derivation = Derivation(
        name="sigmoid", inputs={"x": np.random.default_rng(1).standard_normal((1, 4))},
        loss=lambda x: value * al.sigmoid(x).sum(),
        gradients={"x": lambda x: value * float(factor) / (1 + np.exp(-x)) *
                   (1 - 1 / (1 + np.exp(-x)))})
    (reference,) = verify(derivation).checks
    assert check.passed is reference.passed is (factor == "1")
    assert check.outcome == reference.outcome


def test_a_kink_is_reported_as_the_verifier_reports_it() -> None:
    text = ("$x \\in \\mathbb{R}^{1 \\times 3}$, $z = x - x$, $J = \\sum \\mathrm{ReLU}(z)$, "
            "$\\frac{\\partial J}{\\partial z} = 0$.")
    (check,) = check_writeup(text).checks
    assert check.passed and check.outcome == "kink" and len(check.kinks) == 3
    assert {(k["left_slope"], k["right_slope"]) for k in check.kinks} == {(0.0, 1.0)}
    wrong = check_writeup(text.replace("= 0$", "= 5$")).checks[0]
    assert not wrong.passed and wrong.outcome == "fail"


def test_check_writeup_takes_text_or_a_path_seed_and_convention(folder: Path) -> None:
    from_path = check_writeup(folder / "layer.md", seed=5)
    from_text = check_writeup(RIGHT, seed=5)
    assert from_path.file == str(folder / "layer.md") and from_text.file is None
    assert [c.to_json() for c in from_path.checks] == [c.to_json() for c in from_text.checks]
    assert check_writeup(RIGHT, convention="column").convention == "column"
    assert check_writeup(str(folder / "layer.md")).passed
