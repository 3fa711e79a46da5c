"""Every shipped writeup (derivations/*.md) checks out: no equation fails, and what is not
checked is listed with its line and a reason. And the student-style writeups in
tests/writeups/ get, line by line, the verdicts written beside their equations
(``% expect: pass, fail sign, not checked``), no more and no fewer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from autograd_lite.writeup import check_writeup

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "derivations").glob("*.md"))
STUDENTS = sorted((Path(__file__).parent / "writeups").glob("*.*"))
# The least a shipped writeup must check (it is read, not skipped wholesale).
AT_LEAST = {"neural_network": 15, "sigmoid": 10, "softmax": 12, "softmax_cross_entropy": 8,
            "word2vec_naive_softmax": 5, "word2vec_negative_sampling": 3}


def test_the_catalogue_is_found():
    assert len(SHIPPED) >= 8 and len(STUDENTS) >= 8


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_writeup_checks_out(path: Path):
    report = check_writeup(path)
    assert report.error is None, report.error
    failed = [(c.line, c.latex, c.diagnosis.message if c.diagnosis else "")
              for c in report.checks if not c.passed]
    assert failed == []
    assert report.passed
    assert len(report.checks) >= AT_LEAST.get(path.stem, 0)
    lines = path.read_text(encoding="utf-8").count("\n") + 1
    for item in report.not_checked:
        assert item["reason"] and 1 <= item["line"] <= lines and item["latex"]
    for check in report.checks:
        assert 1 <= check.line <= lines and check.latex
        assert "=" in path.read_text(encoding="utf-8").split("\n")[check.line - 1] \
            or check.latex.startswith("=")


def test_the_json_of_a_writeup():
    report = check_writeup(ROOT / "derivations" / "sigmoid.md")
    data = json.loads(json.dumps(report.to_json()))
    assert data["name"] == "The sigmoid gradient (D2)"
    assert data["kind"] == "writeup" and data["passed"] is True
    assert all({"line", "latex", "target", "kind", "passed"} <= set(c) for c in data["checks"])
    assert {"line", "latex", "status"} <= set(data["equations"][0])


def expectations(path: Path) -> dict[int, list[str]]:
    found = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        match = re.search(r"% expect: (.*)$", line)
        if match:
            found[number] = [word.strip() for word in match.group(1).split(",")]
    return found


def verdict(check) -> str:
    if check.passed:
        return "pass"
    return "fail " + check.diagnosis.kind if check.diagnosis else "fail"


@pytest.mark.parametrize("path", STUDENTS, ids=lambda p: p.name)
def test_student_writeups_get_the_expected_verdict_on_every_line(path: Path):
    report = check_writeup(path)
    assert report.error is None, report.error
    got: dict[int, list[str]] = {}
    for check in report.checks:
        got.setdefault(check.line, []).append(verdict(check))
    for item in report.not_checked:
        got.setdefault(item["line"], []).append("not checked")
    want = expectations(path)
    assert sorted(got) == sorted(want), f"verdicts on lines {sorted(got)}, expected {sorted(want)}"
    for line, expected in want.items():
        assert len(got[line]) == len(expected), (line, got[line], expected)
        for actual, wanted in zip(got[line], expected):
            assert actual == wanted or actual.startswith(wanted + " "), (line, got[line], expected)


def test_the_diagnoses_name_the_slip():
    shapes = check_writeup(Path(__file__).parent / "writeups" / "shapes.md")
    messages = [c.diagnosis.message for c in shapes.checks if c.diagnosis]
    assert any("row-vector convention δ_3 W_2ᵀ, with which the equation holds" in m
               for m in messages)
    assert any("element-wise product fits" in m and "the equation holds" in m for m in messages)
    batch = check_writeup(Path(__file__).parent / "writeups" / "batch_mean.md")
    assert "N = 3 (the batch size)" in batch.checks[0].diagnosis.message


def test_the_markdown_report_marks_every_equation():
    from autograd_lite.verify import is_writeup
    from autograd_lite.writeup.present import markdown_section, not_checked_lines

    wrong = check_writeup(Path(__file__).parent / "writeups" / "wrong_steps.md")
    text = markdown_section(wrong)
    assert text.count("❌ failed") == 3 and "[sign]" in text and "definition: $h = " in text
    right = markdown_section(check_writeup(Path(__file__).parent / "writeups" /
                                           "right_chain.md"))
    assert "✅ passed" in right and "❌" not in right
    network = check_writeup(ROOT / "derivations" / "neural_network.md")
    listed = "\n".join(not_checked_lines(network))
    assert all(f"line {item['line']}" in listed for item in network.not_checked)
    assert "D_x = 10" in listed
    assert is_writeup("a.md") and is_writeup("b.TEX") and not is_writeup("c.py")
