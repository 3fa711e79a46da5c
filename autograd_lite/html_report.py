"""The verification report as one offline HTML page, and rich display in notebooks.

:func:`write_html` writes ``DIR/index.html``: a summary, then per derivation its math (the
Markdown file named by ``Derivation.source``, LaTeX rendered as MathML by ``latex2mathml``, which
browsers draw natively), the three-way table, the diagnoses and the graph inline as SVG, each
failing target's row linking to its node. The page loads nothing: no script, no style sheet, no
font, no image from elsewhere.

In a notebook, a :class:`~autograd_lite.verify.DerivationReport`, a :class:`Reports` list (what
:func:`verify_files` returns) and a :class:`~autograd_lite.checking.GradcheckReport` display as
HTML through the ``*_html`` functions here.

The report dataclasses are read with ``getattr`` and defaults, so fields added to them later
(other outcomes than pass and fail) are shown where known and never break the page.
"""

from __future__ import annotations

import html
import math
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from autograd_lite.errors import AutogradLiteError
from autograd_lite.explain import explanation_of
from autograd_lite.report import (
    SECOND_ORDER,
    is_writeup_report,
    render_graphs,
    slug,
    summary,
    table,
)

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
MATHML_NS = "http://www.w3.org/1998/Math/MathML"
# MathML elements whose children are positional arguments, with how many they take.
_ARITY = {"mfrac": 2, "msub": 2, "msup": 2, "msubsup": 3, "munder": 2, "mover": 2,
          "munderover": 3, "mroot": 2}

CSS = """
.al-report { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #212529; line-height: 1.45; max-width: 72rem; margin: 0 auto; padding: 0 1rem 3rem; }
.al-report h1 { font-size: 1.6rem; margin: 1.2rem 0 .4rem; }
.al-report h2 { font-size: 1.3rem; margin: 2.2rem 0 .4rem; padding-top: .8rem;
  border-top: 1px solid #dee2e6; }
.al-report table { border-collapse: collapse; margin: .6rem 0; font-size: .92rem; }
.al-report th, .al-report td { border: 1px solid #dee2e6; padding: .25rem .55rem;
  text-align: left; vertical-align: top; }
.al-report th { background: #f1f3f5; }
.al-report td.num { text-align: right; font-variant-numeric: tabular-nums;
  font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.al-report .badge { display: inline-block; padding: .05rem .5rem; border-radius: .6rem;
  font-weight: 600; font-size: .85rem; color: #fff; background: #868e96; }
.al-report .badge.pass { background: #2b8a3e; }
.al-report .badge.fail { background: #c92a2a; }
.al-report .badge.error { background: #e67700; }
.al-report tr.fail td { background: #fff5f5; }
.al-report .summary { font-size: 1.05rem; }
.al-report .meta { color: #495057; font-size: .9rem; }
.al-report .diagnoses li { margin: .3rem 0; }
.al-report .diagnoses .kind { font-family: ui-monospace, monospace; color: #c92a2a; }
.al-report .error-box { background: #fff4e6; border-left: 4px solid #e67700;
  padding: .5rem .8rem; white-space: pre-wrap; }
.al-report details.math { margin: .6rem 0; }
.al-report details.math > summary { cursor: pointer; color: #1c7ed6; }
.al-report .math-body { border-left: 3px solid #d0ebff; padding: 0 0 0 1rem; }
.al-report .math-body h3, .al-report .math-body h4 { font-size: 1.05rem; }
.al-report math { font-size: 1.1em; font-family: "STIX Two Math", "Latin Modern Math",
  "Cambria Math", "DejaVu Math TeX Gyre", math; }
.al-report math[display="block"] { margin: .6rem 0; overflow-x: auto; overflow-y: hidden; }
.al-report merror { color: #c92a2a; border: 1px solid #c92a2a; }
.al-report code { background: #f1f3f5; padding: 0 .2rem; border-radius: .2rem; }
.al-report .graph { overflow: auto; max-height: 90vh; border: 1px solid #dee2e6;
  border-radius: .3rem; padding: .3rem; margin: .6rem 0; background: #fff; }
.al-report .graph svg { max-width: 100%; height: auto; }
.al-report ul.eq-marks { list-style: none; margin: .2rem 0 .8rem; padding: .2rem .6rem;
  font-size: .9rem; background: #f8f9fa; border-radius: .3rem; }
.al-report ul.eq-marks li { margin: .15rem 0; padding-left: .5rem; border-left: 4px solid #adb5bd; }
.al-report ul.eq-marks li.pass { border-color: #2b8a3e; }
.al-report ul.eq-marks li.fail { border-color: #c92a2a; background: #fff5f5; }
.al-report ul.eq-marks li.part { border-color: #f08c00; }
.al-report ul.eq-marks .kind { font-family: ui-monospace, monospace; color: #c92a2a; }
.al-report .graph g.node.failing:target polygon, .al-report .graph g.node.failing:target path,
.al-report .graph g.node.failing:target ellipse { stroke: #f08c00; stroke-width: 6px; }
"""


# ------------------------------------------------------------------------------ the math
def latex_to_mathml(latex: str, display: bool = False) -> str:
    """``latex`` as a MathML ``<math>`` element (``latex2mathml``), the source kept as its
    annotation. What cannot be rendered (a parse error, an unknown command, a fraction or script
    missing an argument) becomes a visible ``<merror>`` holding the source, never wrong math."""
    from latex2mathml.converter import convert

    mode = "block" if display else "inline"
    source = html.escape(latex.strip(), quote=False)
    try:
        converted = convert(latex.strip(), display=mode)
        root = ET.fromstring(converted)
        problem = _mathml_problem(root)
    except Exception as exc:  # latex2mathml raises its own exceptions on malformed input
        converted, problem = "", f"{type(exc).__name__}: {exc}"
    if problem is not None:
        return (f'<math xmlns="{MATHML_NS}" display="{mode}"><merror><mtext>cannot render '
                f'{source} ({html.escape(problem, quote=False)})</mtext></merror></math>')
    body = converted[converted.index(">") + 1:converted.rindex("</math>")]
    return (f'<math xmlns="{MATHML_NS}" display="{mode}"><semantics><mrow>{body}</mrow>'
            f'<annotation encoding="application/x-tex">{source}</annotation></semantics></math>')


def _mathml_problem(root: ET.Element) -> str | None:
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag in ("mi", "mo", "mn") and (element.text or "").startswith("\\"):
            return f"unknown command {element.text}"
        if tag in _ARITY and len(element) != _ARITY[tag]:
            return f"<{tag}> needs {_ARITY[tag]} arguments, got {len(element)}"
    return None


def markdown_to_html(text: str, heading_shift: int = 2) -> str:
    """Markdown (CommonMark with tables) and its ``$…$`` / ``$$…$$`` LaTeX as HTML with MathML.
    Raw HTML in the Markdown is shown as text; headings move down ``heading_shift`` levels."""
    md = _markdown()
    tokens = md.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + heading_shift)}"
    return md.renderer.render(tokens, md.options, {})


def _markdown() -> Any:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.use(dollarmath_plugin, allow_space=True, allow_digits=True, double_inline=True,
           renderer=lambda content, options: latex_to_mathml(
               content, display=bool(options.get("display_mode"))))
    return md


# ------------------------------------------------------------------------------ writeups
_MARKS = {"passed": ("pass", "✔ passed"), "failed": ("fail", "✘ failed"),
          "not checked": ("skip", "○ not checked"), "partly checked": ("part", "◐ partly checked")}


def _marks(report: Any, first: int, last: int) -> str:
    """The marks of a writeup's equations on lines ``first``–``last``: each equation's status,
    the diagnoses of the links that failed there and the reasons for what was not checked."""
    items = []
    for entry in getattr(report, "equations", []):
        if first <= entry["line"] <= last and entry["status"] in _MARKS:
            cls, label = _MARKS[entry["status"]]
            items.append(f'<li class="{cls}"><b>{_esc(label)}</b> <span class="meta">line '
                         f'{entry["line"]}</span></li>')
    for check in getattr(report, "checks", []):
        if not first <= getattr(check, "line", 0) <= last:
            continue
        diagnosis = getattr(check, "diagnosis", None)
        if not check.passed:
            message = getattr(diagnosis, "message", None) or "failed"
            kind = getattr(diagnosis, "kind", "?")
            items.append(f'<li class="fail diagnosis">line {check.line}, {_latex_inline(check)}'
                         f': <span class="kind">[{_esc(kind)}]</span> {_text(message)}</li>')
        elif getattr(check, "outcome", "pass") != "pass" and getattr(check, "reason", None):
            items.append(f'<li class="pass">line {check.line}, {_latex_inline(check)}: '
                         f"{_esc(check.outcome.upper())} (not a failure): "
                         f"{_text(check.reason)}</li>")
    for item in getattr(report, "not_checked", []):
        if first <= item["line"] <= last:
            items.append(f'<li class="skip">line {item["line"]}, not checked: '
                         f'{_text(item["reason"])}</li>')
    return f'<ul class="eq-marks">{"".join(items)}</ul>' if items else ""


_LATEX_IN_TEXT = re.compile(r"\$[^$]+\$|\\[A-Za-z]+(?:\{[^{}]*\})*")


def _text(text: Any) -> str:
    """Plain text that may quote LaTeX (a heading with $…$, a reason quoting \\text{…}): escaped,
    the LaTeX shown as code (it is a quotation of the source, not math to typeset)."""
    out, last = [], 0
    raw = str(text)
    for match in _LATEX_IN_TEXT.finditer(raw):
        out += [_esc(raw[last:match.start()]), f"<code>{_esc(match.group(0))}</code>"]
        last = match.end()
    return "".join(out) + _esc(raw[last:])


def _latex_inline(check: Any) -> str:
    latex = getattr(check, "latex", None)
    return latex_to_mathml(latex) if latex else f"<code>{_esc(check.target)}</code>"


def writeup_math_html(report: Any, heading_shift: int = 2) -> str:
    """A writeup's math with each equation marked passed, failed (the diagnosis underneath) or
    not checked (the reason underneath). A Markdown writeup is rendered as written, the marks
    after each block (paragraph, display, list) holding equations; a LaTeX writeup, or a text
    with no file, as the list of its equations."""
    file = getattr(report, "file", None)
    text = None
    if file and Path(file).suffix.lower() in (".md", ".markdown") and Path(file).is_file():
        try:
            text = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = None
    if text is None:
        parts = []
        for entry in getattr(report, "equations", []):
            parts.append(latex_to_mathml(" ".join(entry["latex"].split()), display=True))
            parts.append(_marks(report, entry["line"], entry["line"]))
        return "".join(parts)
    from markdown_it.token import Token

    md = _markdown()
    tokens = md.parse(text)
    marked: list[Any] = []
    opened: list[int] | None = None
    covered: set[int] = set()
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + heading_shift)}"
        marked.append(token)
        if token.level != 0:
            continue
        if token.nesting == 1:
            opened = token.map
            continue
        span = opened if token.nesting == -1 else token.map
        if not span:
            continue
        first, last = span[0] + 1, span[1]
        covered |= set(range(first, last + 1))
        note = _marks(report, first, last)
        if note:
            block = Token("html_block", "", 0)
            block.content = note
            marked.append(block)
    html_text = md.renderer.render(marked, md.options, {})
    lines = sorted({e["line"] for e in getattr(report, "equations", [])} |
                   {c.line for c in getattr(report, "checks", [])} |
                   {i["line"] for i in getattr(report, "not_checked", [])})
    rest = "".join(_marks(report, n, n) for n in lines if n not in covered)
    return html_text + (f"<p class=\"meta\">Elsewhere in the file:</p>{rest}" if rest else "")


def _writeup_section(report: Any, anchor: str, heading: str = "h2") -> str:
    """A writeup's section: status, its math marked equation by equation, the table of its
    checks and the sizes it chose."""
    status = _status(report)
    checks = getattr(report, "checks", [])
    skipped = getattr(report, "not_checked", [])
    out = [f'<section id="{anchor}" class="derivation writeup">',
           f"<{heading}>{_text(report.name)} {_badge(status)}</{heading}>"]
    meta = [f"File: <code>{_esc(report.file)}</code>"] if getattr(report, "file", None) else []
    meta.append(f"a writeup, checked as written: {len(checks)} checks, {len(skipped)} not "
                "checked")
    sizes = getattr(report, "sizes", None) or {}
    if sizes:
        meta.append(_esc("sizes " + ", ".join(f"{k} = {v}" for k, v in sizes.items()) +
                         f" ({getattr(report, 'convention', 'row')}-vector convention, "
                         f"{getattr(report, 'draws', 0)} draws)"))
    out.append(f'<p class="meta">{" · ".join(meta)}</p>')
    error = getattr(report, "error", None)
    if error:
        out.append(f'<p class="error-box">Cannot check: {_esc(error)}</p></section>')
        return "\n".join(out)
    out.append(f'<details class="math" open><summary>The writeup, each equation marked'
               f'</summary><div class="math-body" id="{anchor}-math">'
               f"{writeup_math_html(report, 2 if heading == 'h2' else 3)}</div></details>")
    if checks:
        out.append(_checks_table(report, {}))
    out.append("</section>")
    return "\n".join(out)


# ------------------------------------------------------------------------------ the graph
def _svg_from_file(path: Path) -> ET.Element:
    return ET.fromstring(path.read_bytes())


def inline_svg(root: ET.Element, prefix: str, failing: dict[str, str]
               ) -> tuple[str, dict[str, str]]:
    """Graphviz's SVG made fit to sit in a page beside others: every id prefixed (and every
    reference to one), each failing target's node found, marked and titled with its diagnosis.
    Returns the SVG text and target → the id of its node.

    A target's node is the one whose first line is the target's name (inputs and named steps
    are drawn under their names), else one whose text carries "FAIL <target>"."""
    for element in root.iter():
        for key in ("id",):
            if key in element.attrib:
                element.attrib[key] = prefix + element.attrib[key]
        for key in ("href", f"{{{XLINK_NS}}}href"):
            value = element.attrib.get(key, "")
            if value.startswith("#"):
                element.attrib[key] = "#" + prefix + value[1:]
        for key, value in list(element.attrib.items()):
            if "url(#" in value:
                element.attrib[key] = value.replace("url(#", "url(#" + prefix)
    nodes = [g for g in root.iter(f"{{{SVG_NS}}}g") if "node" in g.get("class", "").split()]
    texts = {id(g): ["".join(t.itertext()).strip() for t in g.iter(f"{{{SVG_NS}}}text")]
             for g in nodes}
    anchors: dict[str, str] = {}
    for target, reason in failing.items():
        def first_line(g: ET.Element, target: str = target) -> bool:
            lines = texts[id(g)]
            return bool(lines) and re.match(rf"{re.escape(target)}(\s|=|:|$)", lines[0]) is not None

        found = next((g for g in nodes if first_line(g)), None) or next(
            (g for g in nodes if f"FAIL {target}" in " ".join(texts[id(g)])), None)
        if found is None or "id" not in found.attrib:
            continue
        found.set("class", found.get("class", "") + " failing")
        title = found.find(f"{{{SVG_NS}}}title")
        if title is None:
            title = ET.SubElement(found, f"{{{SVG_NS}}}title")
        title.text = f"FAIL {target}: {reason}"
        anchors[target] = found.attrib["id"]
    ET.register_namespace("", SVG_NS)  # written as <svg xmlns="…">, its children unprefixed
    ET.register_namespace("xlink", XLINK_NS)
    return ET.tostring(root, encoding="unicode"), anchors


def _graph_svgs(reports: Sequence[Any], graphs: dict[int, Path] | None
                ) -> dict[int, ET.Element | str]:
    """Each report's graph as parsed SVG (from ``graphs`` where given, else rendered into a
    temporary folder), or the reason it could not be drawn."""

    out: dict[int, ET.Element | str] = {}
    with tempfile.TemporaryDirectory(prefix="autograd-lite-graphs-") as tmp:
        for i, report in enumerate(reports):
            if getattr(report, "loss", None) is None:
                continue
            try:
                path = (graphs or {}).get(i)
                if path is None or not Path(path).is_file():
                    path = render_graphs([report], Path(tmp) / str(i)).get(0)
                if path is not None:
                    out[i] = _svg_from_file(Path(path))
            except AutogradLiteError as exc:
                out[i] = str(exc)
            except ET.ParseError as exc:
                out[i] = f"the graph's SVG could not be read ({exc})"
    return out


# ------------------------------------------------------------------------------ reading reports
def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any) -> str:
    if value is None:
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return _esc(value)
    return "NaN" if math.isnan(number) else f"{number:.1e}"


def _value(value: Any) -> str:
    try:
        return f"{float(value):.10g}"
    except (TypeError, ValueError):
        return "—"


def _status(item: Any) -> str:
    """PASS, FAIL or ERROR, or the item's own outcome where it has one."""
    outcome = getattr(item, "outcome", None)
    if isinstance(outcome, str) and outcome:
        return outcome.upper()
    if getattr(item, "error", None):
        return "ERROR"
    return "PASS" if getattr(item, "passed", False) else "FAIL"


def _badge(status: str) -> str:
    kind = {"PASS": "pass", "FAIL": "fail", "ERROR": "error"}.get(status, "other")
    return f'<span class="badge {kind}">{_esc(status)}</span>'


def _loss_value(report: Any) -> str | None:
    loss = getattr(report, "loss", None)
    try:
        return f"{float(loss.data):.6g}" if loss is not None else None
    except (TypeError, ValueError, AttributeError):
        return None


_TOLERANCE_NAMES = {"exact": "formula vs tape", "numeric": "against finite differences",
                    "step": "finite-difference step (× max(1, |x|))",
                    "unit_roundoff": "unit round-off u"}


def _tolerances(report: Any) -> str:
    tol = getattr(report, "tolerances", None) or {}
    parts = []
    for key, value in tol.items():
        label = _TOLERANCE_NAMES.get(key, key.replace("_", " "))
        shown = f"{value:.1e}" if isinstance(value, float) else _esc(value)
        parts.append(f"{_esc(label)} {'≤ ' if key in ('exact', 'numeric') else '= '}{shown}")
    return "; ".join(parts)


def _source_file(report: Any) -> Path | None:
    source, file = getattr(report, "source", None), getattr(report, "file", None)
    if not source or not file:
        return None
    path = Path(file).parent / source
    return path if path.is_file() else None


def _failing_reasons(report: Any) -> dict[str, str]:
    reasons = {}
    for check in getattr(report, "checks", []):
        if not getattr(check, "passed", True):
            diagnosis = getattr(check, "diagnosis", None)
            reasons[check.target] = getattr(diagnosis, "message", None) or "failed"
    return reasons


# ------------------------------------------------------------------------------ sections
def _section(report: Any, anchor: str, svg: ET.Element | str | None,
             math_html: str | None, math_link: str | None, heading: str = "h2") -> str:
    status = _status(report)
    out = [f'<section id="{anchor}" class="derivation">',
           f"<{heading}>{_esc(report.name)} {_badge(status)}</{heading}>"]
    meta = [f"File: <code>{_esc(report.file)}</code>"] if getattr(report, "file", None) else []
    loss = _loss_value(report)
    if loss is not None:
        meta.append(f"loss J = {loss}")
    if meta:
        out.append(f'<p class="meta">{" · ".join(meta)}</p>')
    if math_html is not None:
        source = getattr(report, "source", "")
        out.append(f'<details class="math" open><summary>The derivation '
                   f'(<code>{_esc(source)}</code>)</summary><div class="math-body">{math_html}'
                   "</div></details>")
    elif math_link is not None:
        out.append(f'<p class="meta">The derivation: <a href="#{math_link}">its math, in its '
                   "section of this report</a>.</p>")
    error = getattr(report, "error", None)
    if error:
        out.append(f'<p class="error-box">Cannot verify: {_esc(error)}</p></section>')
        return "\n".join(out)
    svg_html, anchors = "", {}
    if isinstance(svg, ET.Element):
        svg_html, anchors = inline_svg(svg, f"{anchor}-", _failing_reasons(report))
    tolerances = _tolerances(report)
    if tolerances:
        out.append(f'<p class="meta">Tolerances: {tolerances}.</p>')
    if any(getattr(c, "kind", "") in ("hessian", "hvp") for c in getattr(report, "checks", [])):
        out.append(f'<p class="meta">{_esc(SECOND_ORDER[0].upper() + SECOND_ORDER[1:])}.</p>')
    out.append(_checks_table(report, anchors))
    diagnoses = _diagnoses(report)
    if diagnoses:
        out.append(diagnoses)
    explanation = explanation_of(report)
    if explanation is not None:  # a failing target: the backward pass, step by step
        out.append('<details class="math explanation"><summary>The backward pass of the loss, '
                   'step by step (<code>al.explain</code>)</summary><div class="math-body">'
                   f"{markdown_to_html(explanation.markdown, heading_shift=2)}</div></details>")
    if svg_html:
        out.append(f'<div class="graph" id="{anchor}-graph">{svg_html}</div>')
    elif isinstance(svg, str):
        out.append(f'<p class="error-box">The graph could not be drawn: {_esc(svg)}</p>')
    out.append("</section>")
    return "\n".join(out)


def _checks_table(report: Any, anchors: dict[str, str]) -> str:
    rows = ["<table class=\"checks\"><thead><tr><th>target</th><th>kind</th>"
            "<th>tape vs formula</th><th>tape vs numeric</th><th>formula vs numeric</th>"
            "<th>result</th></tr></thead><tbody>"]
    for check in getattr(report, "checks", []):
        status = _status(check)
        target = _esc(check.target)
        if getattr(check, "line", None):
            target = f'<span class="meta">line {check.line}</span> {target}'
        if check.target in anchors:
            target = (f'<a href="#{anchors[check.target]}" title="its node in the graph">'
                      f"{target}</a>")
        cls = "pass" if getattr(check, "passed", False) else "fail"
        rows.append(
            f'<tr class="{cls}"><td>{target}</td><td>{_esc(getattr(check, "kind", ""))}</td>'
            f'<td class="num">{_number(getattr(check, "tape_vs_formula", None))}</td>'
            f'<td class="num">{_number(getattr(check, "tape_vs_numeric", None))}</td>'
            f'<td class="num">{_number(getattr(check, "formula_vs_numeric", None))}</td>'
            f"<td>{_badge(status)}</td></tr>")
    rows.append("</tbody></table>")
    return "".join(rows)


def _diagnoses(report: Any) -> str:
    items = []
    for check in getattr(report, "checks", []):
        diagnosis = getattr(check, "diagnosis", None)
        if diagnosis is None:
            continue
        where = getattr(diagnosis, "index", None)
        worst = f" Worst element: {_esc(tuple(where))}." if where else ""
        items.append(f'<li><b>{_esc(check.target)}</b> <span class="kind">'
                     f'[{_esc(getattr(diagnosis, "kind", "?"))}]</span> '
                     f'{_esc(getattr(diagnosis, "message", ""))}{worst}</li>')
    first = getattr(report, "first_wrong_step", None)
    if first:
        items.append(f"<li>The first wrong step of the chain: <b>{_esc(first)}</b>.</li>")
    return f'<ul class="diagnoses">{"".join(items)}</ul>' if items else ""


def _body(reports: Sequence[Any], errors: Sequence[str], svgs: dict[int, ET.Element | str],
          title: str = "autograd_lite verification report") -> str:
    taken: set[str] = set()
    anchors = [slug(r.name, taken) for r in reports]
    ok = not errors and all(getattr(r, "passed", False) for r in reports)
    out = [f"<h1>{_esc(title)} {_badge('PASS' if ok else 'FAIL')}</h1>",
           f'<p class="summary">{_esc(summary(reports, errors))}.</p>']
    if reports:
        out.append("<table class=\"summary-table\"><thead><tr><th>derivation</th><th>file</th>"
                   "<th>checks</th><th>result</th></tr></thead><tbody>")
        for report, anchor in zip(reports, anchors):
            checks = getattr(report, "checks", [])
            passed = sum(bool(getattr(c, "passed", False)) for c in checks)
            out.append(f'<tr><td><a href="#{anchor}">{_text(report.name)}</a></td>'
                       f"<td><code>{_esc(getattr(report, 'file', '') or '')}</code></td>"
                       f'<td class="num">{passed} / {len(checks)}</td>'
                       f"<td>{_badge(_status(report))}</td></tr>")
        out.append("</tbody></table>")
    if errors:
        out.append("<h2>Could not be verified</h2><ul>")
        out += [f'<li class="error-box">{_esc(e)}</li>' for e in errors]
        out.append("</ul>")
    shown: dict[Path, str] = {}
    for report, anchor in zip(reports, anchors):  # a writeup shows its math, marked, once
        if is_writeup_report(report) and getattr(report, "file", None) and not report.error:
            shown.setdefault(Path(report.file).resolve(), f"{anchor}-math")
    for i, (report, anchor) in enumerate(zip(reports, anchors)):
        if is_writeup_report(report):
            out.append(_writeup_section(report, anchor))
            continue
        source = _source_file(report)
        math_html = link = None
        if source is not None:
            key = source.resolve()
            if key in shown:
                link = shown[key]
            else:
                shown[key] = f"{anchor}-math"
                math_html = (f'<div id="{anchor}-math">'
                             f"{markdown_to_html(source.read_text(encoding='utf-8'))}</div>")
        out.append(_section(report, anchor, svgs.get(i), math_html, link))
    return "\n".join(out)


def page(reports: Sequence[Any], errors: Sequence[str] = (),
         graphs: dict[int, Path] | None = None) -> str:
    """The whole report as one HTML document."""
    body = _body(reports, errors, _graph_svgs(reports, graphs))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>autograd_lite verification report</title>"
            f"<style>{CSS}</style></head>\n<body><main class=\"al-report\">\n{body}\n"
            "</main></body></html>\n")


def write_html(reports: Sequence[Any], errors: Sequence[str], directory: str | Path,
               graphs: dict[int, Path] | None = None) -> Path:
    """Write ``DIR/index.html`` (the graphs are inlined: from ``graphs``, index in ``reports``
    → SVG path, where given, else drawn afresh) and return its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "index.html"
    path.write_text(page(reports, errors, graphs), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ notebooks
def _fragment(body: str) -> str:
    return f'<div class="al-report"><style>{CSS}</style>{body}</div>'


def derivation_html(report: Any) -> str:
    """One verified derivation as HTML (notebooks): its math, table, diagnoses and graph."""
    if is_writeup_report(report):
        return _fragment(_writeup_section(report, slug(report.name, set()), "h3"))
    source = _source_file(report)
    math_html = markdown_to_html(source.read_text(encoding="utf-8"), 3) if source else None
    svg = _graph_svgs([report], None).get(0)
    return _fragment(_section(report, slug(report.name, set()), svg, math_html, None, "h3"))


def reports_html(reports: Sequence[Any], errors: Sequence[str] = ()) -> str:
    """Several verified derivations as HTML (notebooks): the summary, then each in full."""
    return _fragment(_body(reports, errors, _graph_svgs(reports, None),
                           title="autograd_lite verification"))


def gradcheck_html(report: Any) -> str:
    """A :class:`~autograd_lite.checking.GradcheckReport` as HTML (notebooks): one row per
    input with its errors and worst element."""
    settings = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in (getattr(report, "settings", None) or {}).items())
    rows = []
    for check in getattr(report, "inputs", []):
        position = getattr(check, "position", -1)
        name = getattr(check, "name", None) or (f"input {position}" if position >= 0
                                                else "all inputs")
        worst = getattr(check, "worst_index", None)
        rows.append(
            f'<tr class="{"pass" if check.passed else "fail"}"><td>{_esc(name)}</td>'
            f"<td>{_esc(getattr(check, 'shape', ''))}</td>"
            f'<td class="num">{_number(getattr(check, "max_abs_error", None))}</td>'
            f'<td class="num">{_number(getattr(check, "max_rel_error", None))}</td>'
            f"<td>{_esc(tuple(worst)) if worst is not None else 'directional'}</td>"
            f'<td class="num">{_value(getattr(check, "analytic", None))}</td>'
            f'<td class="num">{_value(getattr(check, "numeric", None))}</td>'
            f"<td>{_esc(getattr(check, 'mode', ''))}</td>"
            f"<td>{_badge('PASS' if check.passed else 'FAIL')}</td></tr>")
    head = "gradcheck " + ("passed" if getattr(report, "passed", False) else "FAILED")
    return _fragment(
        f"<p><b>{_esc(head)}</b> <span class=\"meta\">({_esc(settings)})</span></p>"
        "<table><thead><tr><th>input</th><th>shape</th><th>max abs error</th>"
        "<th>max rel error</th><th>worst element</th><th>tape</th><th>numeric</th>"
        f"<th>mode</th><th>result</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


class Reports(list):  # type: ignore[type-arg]
    """Verification reports (a list of ``DerivationReport``) with the errors of the files that
    could not be loaded. Displays as a table in a notebook; ``str()`` is the CLI's table."""

    def __init__(self, reports: Iterable[Any] = (), errors: Iterable[str] = ()) -> None:
        super().__init__(reports)
        self.errors = list(errors)

    @property
    def passed(self) -> bool:
        """True when every check of every derivation passed and every file could be loaded."""
        return not self.errors and all(r.passed for r in self)

    def __str__(self) -> str:
        return table(self, self.errors)

    def _repr_html_(self) -> str:
        return reports_html(self, self.errors)

    def write_html(self, directory: str | Path) -> Path:
        """Write the HTML report to ``directory/index.html``."""
        return write_html(self, self.errors, directory)


def verify_files(*paths: str | Path) -> Reports:
    """Verify every derivation in the given ``.py`` files and folders (as ``autograd-lite
    verify`` does) and return the reports; in a notebook they display as HTML."""
    from autograd_lite.verify import verify_paths

    reports, errors = verify_paths(paths)
    return Reports(reports, list(errors))
