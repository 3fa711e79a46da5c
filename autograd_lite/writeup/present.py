"""Present a writeup's report: its math with each equation marked, for the Markdown report and
the text table of ``autograd-lite verify``."""

from __future__ import annotations

from collections.abc import Iterable

from autograd_lite.writeup.judging import WriteupReport

__all__ = ["markdown_section", "not_checked_lines"]

MARKS = {"passed": "✅ passed", "failed": "❌ failed", "not checked": "⚪ not checked",
         "partly checked": "◐ partly checked", "definition": "definition",
         "declaration": "declaration", "sizes": "sizes"}


def not_checked_lines(report: WriteupReport, width: int = 60) -> list[str]:
    """Lines for the text table: what was not checked, with its line and the reason."""
    out = []
    for item in report.not_checked:
        latex = " ".join(item["latex"].split())
        latex = latex if len(latex) <= width else latex[:width - 1] + "…"
        out.append(f"  not checked, line {item['line']}: {latex}")
        out.append(f"      ↳ {item['reason']}")
    if report.sizes or report.inferred:
        chosen = ", ".join(f"{k} = {v}" for k, v in report.sizes.items())
        shapes = ", ".join(f"{k}: {tuple(v)}" for k, v in report.inferred.items())
        out.append(f"  sizes: {chosen or '—'}; inferred shapes: {shapes or '—'} "
                   f"({report.convention}-vector convention, {report.draws} draws)")
    return out


def markdown_section(report: WriteupReport) -> str:
    """The writeup's equations in order, each marked passed, failed (the diagnosis underneath)
    or not checked (the reason underneath)."""
    lines = [f"## {report.name}", ""]
    status = report.outcome.upper()
    where = f"File: `{report.file}` — " if report.file else ""
    lines += [f"{where}**{status}** (a writeup, checked as written: {len(report.checks)} "
              f"checks, {len(report.not_checked)} not checked)", ""]
    if report.error:
        return "\n".join(lines + [f"Could not be checked: {report.error}", ""])
    by_line_checks: dict[int, list] = {}
    for check in report.checks:
        by_line_checks.setdefault(check.line, []).append(check)
    by_line_skipped: dict[int, list] = {}
    for item in report.not_checked:
        by_line_skipped.setdefault(item["line"], []).append(item)
    shown: set[int] = set()
    for entry in report.equations:
        status = entry["status"]
        if status in ("definition", "declaration", "sizes"):
            lines.append(f"- line {entry['line']}, {status}: ${_one_line(entry['latex'])}$")
            continue
        lines.append(f"- line {entry['line']}, {MARKS.get(status, status)}:")
        lines += ["", "  $$", f"  {_one_line(entry['latex'])}", "  $$", ""]
        for number in _lines_of(entry, report):
            if number in shown:
                continue
            shown.add(number)
            for check in by_line_checks.get(number, []):
                if not check.passed and check.diagnosis is not None:
                    lines.append(f"  - ❌ line {number}, `{check.target}`: "
                                 f"[{check.diagnosis.kind}] {check.diagnosis.message}")
                elif check.outcome in ("kink", "unreliable") and check.reason:
                    lines.append(f"  - ✅ line {number}, `{check.target}` "
                                 f"({check.outcome.upper()}, not a failure): {check.reason}")
            for item in by_line_skipped.get(number, []):
                lines.append(f"  - ⚪ line {number}, not checked: {item['reason']}")
        lines.append("")
    rest = [item for item in report.not_checked if item["line"] not in shown]
    if rest:
        lines += ["Not checked elsewhere in the file:", ""]
        lines += [f"- line {item['line']}: `{_one_line(item['latex'])}`: {item['reason']}"
                  for item in rest]
        lines.append("")
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _lines_of(entry: dict, report: WriteupReport) -> Iterable[int]:
    """The lines an equation covers: from its own line to the line before the next one."""
    starts = sorted({e["line"] for e in report.equations})
    after = [n for n in starts if n > entry["line"]]
    end = after[0] - 1 if after else max([entry["line"]] + [c.line for c in report.checks] +
                                         [i["line"] for i in report.not_checked])
    return range(entry["line"], end + 1)
