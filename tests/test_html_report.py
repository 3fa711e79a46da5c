"""The HTML report: MathML from the derivations' LaTeX, the page's structure and links, and the
page opened in headless Chromium (every formula drawn as MathML, no error element, each
derivation's graph there, a screenshot saved)."""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from autograd_lite.cli import main
from autograd_lite.html_report import (
    Reports,
    gradcheck_html,
    latex_to_mathml,
    markdown_to_html,
    verify_files,
    write_html,
)
from autograd_lite.verify import load_file, verify

ROOT = Path(__file__).resolve().parent.parent
MINE = ROOT / "docs" / "my_derivation.py"
SOURCES = sorted((ROOT / "derivations").glob("*.md")) + [ROOT / "docs" / "my_derivation.md"]
MATHML = "{http://www.w3.org/1998/Math/MathML}"


def formulas(markdown: str) -> list[str]:
    """The LaTeX of a Markdown text, found independently of the renderer: $$…$$ then $…$,
    outside code spans."""
    text = re.sub(r"`[^`\n]*`", "", markdown)
    display = re.findall(r"\$\$(.+?)\$\$", text, re.S)
    text = re.sub(r"\$\$(.+?)\$\$", "", text, flags=re.S)
    return display + re.findall(r"\$(.+?)\$", text, re.S)


class Page(HTMLParser):
    """The ids, links, resource references and per-section contents of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.loads: list[str] = []
        self.tags: list[str] = []
        self.sections: dict[str, dict[str, int]] = {}
        self.current: str | None = None
        self.explaining = False  # inside a failing target's explanation (al.explain)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append(tag)
        if attributes.get("id"):
            self.ids.add(attributes["id"] or "")
        if tag == "section":
            self.current = attributes.get("id")
            writeup = "writeup" in (attributes.get("class") or "").split()
            self.sections[self.current or ""] = {"svg": 0, "math": 0, "writeup": writeup}
        if tag == "details" and "explanation" in (attributes.get("class") or "").split():
            self.explaining = True
        if self.current and tag in ("svg", "math") and not self.explaining:
            self.sections[self.current][tag] += 1
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"] or "")
        for key in ("src", "srcset", "data", "poster", "background"):
            if attributes.get(key):
                self.loads.append(f"{tag} {key}={attributes[key]}")
        if tag in ("link", "script", "iframe", "img", "object", "embed", "image", "use"):
            self.loads.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "details":
            self.explaining = False


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the shipped catalogue and the README's failing example, graphs to files."""
    directory = tmp_path_factory.mktemp("report")
    status = main(["verify", str(ROOT / "derivations"), str(MINE), "--report", str(directory),
                   "--graphs", str(directory / "graphs")])
    assert status == 1  # the README's example has a wrong bias gradient
    return directory


def derivation_count() -> int:
    return sum(len(load_file(p)) for p in [*sorted((ROOT / "derivations").glob("*.py")), MINE])


def writeup_count() -> int:
    """The shipped writeups (derivations/*.md), each a section of its own (no graph)."""
    return len(list((ROOT / "derivations").glob("*.md")))


# ------------------------------------------------------------------------------ the math
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_every_formula_converts_to_mathml_keeping_its_source(source: Path) -> None:
    found = formulas(source.read_text(encoding="utf-8"))
    assert found, f"{source} holds no formula"
    for latex in found:
        mathml = latex_to_mathml(latex, display=False)
        root = ET.fromstring(mathml)
        assert root.tag == f"{MATHML}math"
        assert root.find(f".//{MATHML}merror") is None, latex
        annotation = root.find(f".//{MATHML}annotation")
        assert annotation is not None and annotation.text == latex.strip()
        assert len(list(root.iter())) > 3  # more than math/semantics/annotation: it has content


@pytest.mark.parametrize("latex", [r"\notacommand{x}", r"\frac{a}", r"x^{", r"\sqrt"])
def test_latex_that_cannot_be_rendered_is_a_visible_error(latex: str) -> None:
    root = ET.fromstring(latex_to_mathml(latex, display=True))
    error = root.find(f".//{MATHML}merror")
    assert error is not None
    assert latex in "".join(error.itertext())


def test_display_and_inline_math_are_told_apart() -> None:
    assert 'display="block"' in latex_to_mathml("x^2", display=True)
    assert 'display="inline"' in latex_to_mathml("x^2", display=False)


def test_markdown_headings_tables_math_and_raw_html() -> None:
    out = markdown_to_html("# Title\n\n| a | b |\n|---|---|\n| $x_1$ | 2 |\n\n"
                           "$$\\frac{a}{b}$$\n\n<script>alert(1)</script>\n")
    assert "<h3>Title</h3>" in out
    assert "<table>" in out and re.search(r"<td>(<span[^>]*>)?<math", out)
    assert out.count("<math") == 2 and 'display="block"' in out
    assert "<script>" not in out and "&lt;script&gt;" in out


# ------------------------------------------------------------------------------ the page
def test_the_page_loads_nothing_and_every_link_resolves(report_dir: Path) -> None:
    text = (report_dir / "index.html").read_text(encoding="utf-8")
    page = Page()
    page.feed(text)
    assert page.loads == []
    assert "@import" not in text and not re.search(r"url\((?!#)", text)
    assert page.links and all(link.startswith("#") for link in page.links)
    assert all(link[1:] in page.ids for link in page.links)


def test_one_section_per_derivation_each_with_its_graph(report_dir: Path) -> None:
    page = Page()
    page.feed((report_dir / "index.html").read_text(encoding="utf-8"))
    assert len(page.sections) == derivation_count() + writeup_count()
    assert sum(counts["writeup"] for counts in page.sections.values()) == writeup_count()
    assert all(counts["svg"] == 1 for counts in page.sections.values() if not counts["writeup"])


def test_each_derivations_math_is_shown_once(report_dir: Path) -> None:
    page = Page()
    page.feed((report_dir / "index.html").read_text(encoding="utf-8"))
    expected = sum(len(formulas(p.read_text(encoding="utf-8"))) for p in SOURCES)
    assert sum(counts["math"] for counts in page.sections.values()) == expected


def test_the_failing_row_links_to_its_red_node(report_dir: Path) -> None:
    text = (report_dir / "index.html").read_text(encoding="utf-8")
    section = text[text.index('<section id="softmax-regression"'):]
    section = section[:section.index("</section>")]
    (link,) = re.findall(r'<a href="#([^"]+)" title="its node in the graph">b</a>', section)
    svg = ET.fromstring(section[section.index("<svg"):section.index("</svg>") + 6])
    ns = "{http://www.w3.org/2000/svg}"
    (node,) = [g for g in svg.iter(f"{ns}g") if g.get("id") == link]
    assert "failing" in node.get("class", "").split()
    assert next(t.text for t in node.iter(f"{ns}text")) == "b"
    title = node.find(f"{ns}title")
    assert title is not None and "missing a sum over axis 0" in (title.text or "")
    assert "[batch_sum]" in section
    (mine,) = load_file(MINE)
    assert f"loss J = {float(verify(mine).loss.data):.6g}" in section


def test_without_a_graphs_folder_the_graphs_are_drawn_for_the_page(tmp_path: Path) -> None:
    reports = verify_files(MINE, ROOT / "no-such-file.py")
    assert not reports.passed and reports.errors == [f"{ROOT / 'no-such-file.py'}: no such "
                                                     "file or folder"]
    path = reports.write_html(tmp_path)
    text = path.read_text(encoding="utf-8")
    assert path == tmp_path / "index.html" and text.count("<svg") == 1
    assert "no-such-file.py: no such file or folder" in text
    assert not list(tmp_path.glob("*.svg"))  # nothing but the page is written


def test_a_derivation_that_cannot_be_verified_is_shown_with_its_error(tmp_path: Path) -> None:
    reports = verify_files(ROOT / "tests" / "derivation_files" / "nonscalar.py")
    text = write_html(reports, reports.errors, tmp_path).read_text(encoding="utf-8")
    assert "must return a scalar" in text and '<span class="badge error">ERROR</span>' in text


def test_notebook_displays(tmp_path: Path) -> None:
    import autograd_lite as al

    (mine,) = load_file(MINE)
    single = verify(mine)._repr_html_()
    assert single.count("<svg") == 1 and "[batch_sum]" in single and "<math" in single
    many = Reports([verify(mine)], ["x.py: broken"])._repr_html_()
    assert "1 derivations, 3 checks: 2 passed, 1 failed; 1 could not be verified" in many
    assert "x.py: broken" in many
    report = al.gradcheck(lambda a, b: (a * b).sum(), [1.0, 2.0], [3.0, 4.0])
    shown = report._repr_html_()
    assert shown == gradcheck_html(report) and shown.count("<tr class=\"pass\">") == 2
    assert "gradcheck passed" in shown


# ------------------------------------------------------------------------------ in a browser
PROBE = """<script>
const all = [...document.querySelectorAll('math')];
const maths = all.filter(m => !m.closest('details.explanation'));  // (a closed <details>)
const explained = all.filter(m => m.closest('details.explanation'));
const box = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
const leaked = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const node = walker.currentNode;
  if (node.parentElement.closest('math, code, pre, svg, style, script')) continue;
  if (/\\$|\\\\[a-zA-Z]+/.test(node.textContent)) leaked.push(node.textContent.slice(0, 80));
}
const sections = [...document.querySelectorAll('section.derivation')].map(s => {
  const svg = s.querySelector('.graph svg');
  return {id: s.id, writeup: s.classList.contains('writeup'), drawn: !!svg && box(svg),
          nodes: svg ? svg.querySelectorAll('g.node').length : 0};
});
document.body.setAttribute('data-probe', JSON.stringify({
  maths: maths.length, mathml: maths.filter(m => m instanceof MathMLElement).length,
  drawn: maths.filter(box).length, merror: document.querySelectorAll('merror').length,
  annotations: [...document.querySelectorAll('annotation')].filter(box).length,
  leaked, sections, explained: explained.length,
  explained_mathml: explained.filter(m => m instanceof MathMLElement).length}));
</script>"""


def chromium(*args: str, user_data: Path) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    return subprocess.run(
        [executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={user_data}", "--hide-scrollbars", *args],
        capture_output=True, text=True, timeout=180, check=True, stdin=subprocess.DEVNULL)


def test_the_page_renders_in_chromium(report_dir: Path, tmp_path: Path) -> None:
    page = (report_dir / "index.html").read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium("--dump-dom", probed.as_uri(), user_data=tmp_path / "profile").stdout
    (raw,) = re.findall(r'data-probe="([^"]*)"', dom)
    probe = json.loads(html.unescape(raw))
    expected = sum(len(formulas(p.read_text(encoding="utf-8"))) for p in SOURCES)
    assert probe["maths"] == expected
    assert probe["mathml"] == expected  # the browser made MathML elements of all of them
    assert probe["drawn"] == expected  # and laid each out with a size
    assert probe["merror"] == 0
    # a failing target's explanation (al.explain): MathML too, shown when its details open
    assert probe["explained"] > 0 and probe["explained_mathml"] == probe["explained"]
    assert probe["annotations"] == 0  # the LaTeX source is kept, not shown
    assert probe["leaked"] == []  # no LaTeX left as text
    assert len(probe["sections"]) == derivation_count() + writeup_count()
    assert all(s["drawn"] and s["nodes"] >= 3 for s in probe["sections"]
               if not s["writeup"]), probe["sections"]

    screenshot = tmp_path / "report.png"
    chromium("--window-size=1280,2400", f"--screenshot={screenshot}",
             (report_dir / "index.html").as_uri(), user_data=tmp_path / "profile")
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2400)


def test_a_missing_path_is_one_error_even_when_it_is_the_only_path() -> None:
    assert verify_files("no-such-file.py").errors == ["no-such-file.py: no such file or folder"]


def test_the_page_and_the_cli_table_give_the_same_summary(tmp_path: Path) -> None:
    """One summary line (report.summary): writeups, kinks and timeouts counted alike."""
    import html

    from autograd_lite.report import summary

    reports = verify_files(ROOT / "derivations" / "neural_network.md",
                           ROOT / "derivations" / "softmax.py")
    line = summary(reports, reports.errors)
    assert "writeups" in line and line in str(reports)
    assert html.escape(line) in reports.write_html(tmp_path).read_text(encoding="utf-8")
