"""Present verification results: a text table, the JSON document, a Markdown report, graphs."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autograd_lite.verify import Check, DerivationReport

JSON_SCHEMA_VERSION = 1


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.1e}"


def _status(check: Check) -> str:
    return "PASS" if check.passed else "FAIL"


def table(reports: Sequence[DerivationReport], errors: Sequence[str]) -> str:
    """The human-readable report: one block per derivation, one row per check."""
    lines: list[str] = []
    header = f"  {'target':<28} {'kind':<9} {'tape~formula':>12} {'tape~numeric':>12} " \
             f"{'formula~numeric':>15}  result"
    for report in reports:
        status = "PASS" if report.passed else ("ERROR" if report.error else "FAIL")
        lines.append(f"{status}  {report.name}  [{report.file}]")
        if report.error:
            lines.append(f"  cannot verify: {report.error}")
            lines.append("")
            continue
        tol = report.tolerances
        lines.append(f"  tolerances: formula vs tape ≤ {tol['exact']:.1e}; vs finite differences "
                     f"≤ {tol['numeric']:.1e} (step u^(1/3)·max(1,|x|) = "
                     f"{tol['step']:.1e}·max(1,|x|), u = {tol['unit_roundoff']:.1e})")
        lines.append(header)
        for check in report.checks:
            target = check.target if len(check.target) <= 28 else check.target[:27] + "…"
            lines.append(f"  {target:<28} {check.kind:<9} {_number(check.tape_vs_formula):>12} "
                         f"{_number(check.tape_vs_numeric):>12} "
                         f"{_number(check.formula_vs_numeric):>15}  {_status(check)}")
            if check.diagnosis is not None:
                lines.append(f"      ↳ [{check.diagnosis.kind}] {check.diagnosis.message}")
                if check.diagnosis.index:
                    lines.append(f"        worst element: {tuple(check.diagnosis.index)}")
        if report.first_wrong_step:
            lines.append(f"  first wrong step of the chain: {report.first_wrong_step}")
        lines.append("")
    for error in errors:
        if not any(r.error and error.endswith(r.error) for r in reports):
            lines.append(f"ERROR  {error}")
    checks = [c for r in reports for c in r.checks]
    failed = sum(not c.passed for c in checks)
    lines.append(f"{len(reports)} derivations, {len(checks)} checks: {len(checks) - failed} "
                 f"passed, {failed} failed; {len(errors)} could not be verified")
    return "\n".join(lines)


def document(reports: Sequence[DerivationReport], errors: Sequence[str]) -> dict[str, Any]:
    """The ``--json`` document (schema in the README)."""
    return {"schema": JSON_SCHEMA_VERSION,
            "passed": not errors and all(r.passed for r in reports),
            "derivations": [r.to_json() for r in reports],
            "errors": list(errors)}


def slug(name: str, taken: set[str]) -> str:
    """A file-name-safe, unique version of a derivation name."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "derivation"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate


def failing_targets(report: DerivationReport) -> dict[Any, str]:
    """The tensors of the failing targets, each with its diagnosis (for highlighting)."""
    marks = {}
    for check in report.checks:
        tensor = report.targets.get(check.target)
        if tensor is not None and not check.passed:
            reason = check.diagnosis.message if check.diagnosis else "failed"
            marks[tensor] = f"FAIL {check.target}: {reason}"
    return marks


def render_graphs(reports: Sequence[DerivationReport], directory: str | Path
                  ) -> dict[int, Path]:
    """Render each verified derivation's graph as SVG, failing targets in red; returns
    index in ``reports`` → path."""
    from autograd_lite.graph import render

    directory = Path(directory)
    paths: dict[int, Path] = {}
    taken: set[str] = set()
    for i, report in enumerate(reports):
        if report.loss is None:
            continue
        path = directory / f"{slug(report.name, taken)}.svg"
        render(report.loss, path, highlight=failing_targets(report), title=report.name)
        paths[i] = path
    return paths


def write_markdown(reports: Sequence[DerivationReport], errors: Sequence[str],
                   directory: str | Path, graphs: dict[int, Path] | None = None) -> Path:
    """Write ``DIR/README.md``: each derivation's math (from its source file), its results and
    its graph. Only that file is written (the graphs go where ``render_graphs`` put them)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = ["# autograd_lite verification report", ""]
    checks = [c for r in reports for c in r.checks]
    failed = sum(not c.passed for c in checks)
    out += [f"{len(reports)} derivations, {len(checks)} checks: {len(checks) - failed} passed, "
            f"{failed} failed; {len(errors)} could not be verified.", ""]
    if errors:
        out += ["## Could not be verified", ""] + [f"- {e}" for e in errors] + [""]
    included: set[Path] = set()
    for i, report in enumerate(reports):
        out += [f"## {report.name}", "", f"File: `{report.file}` — "
                f"**{'PASS' if report.passed else 'FAIL'}**", ""]
        if report.error:
            out += [f"Cannot verify: {report.error}", ""]
            continue
        tol = report.tolerances
        out += [f"Tolerances: formula vs tape ≤ {tol['exact']:.1e}; against finite differences "
                f"≤ {tol['numeric']:.1e} with step {tol['step']:.1e}·max(1, |x|).", "",
                "| target | kind | tape vs formula | tape vs numeric | formula vs numeric | "
                "result |", "|---|---|---|---|---|---|"]
        for check in report.checks:
            out.append(f"| {check.target} | {check.kind} | {_number(check.tape_vs_formula)} | "
                       f"{_number(check.tape_vs_numeric)} | {_number(check.formula_vs_numeric)} "
                       f"| {_status(check)} |")
        for check in report.checks:
            if check.diagnosis:
                out.append(f"\n- **{check.target}** [{check.diagnosis.kind}]: "
                           f"{check.diagnosis.message}")
        if graphs and i in graphs:
            relative = Path(_relative(graphs[i], directory))
            out += ["", f"![graph of {report.name}]({relative.as_posix()})"]
        source = _source_path(report)
        if source is not None and source not in included and source.is_file():
            included.add(source)
            out += ["", "<details><summary>The derivation</summary>", "",
                    source.read_text(encoding="utf-8"), "", "</details>"]
        out.append("")
    path = directory / "README.md"
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def _relative(path: Path, start: Path) -> str:
    return os.path.relpath(path.resolve(), start.resolve())


def _source_path(report: DerivationReport) -> Path | None:
    if report.source is None or report.file is None:
        return None
    return Path(report.file).parent / report.source
