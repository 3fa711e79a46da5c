"""Present verification results: a text table, the JSON document, a Markdown report, graphs."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autograd_lite.explain import explanation_of
from autograd_lite.verify import Check, DerivationReport

#: Version of the ``--json`` document (docs/verdicts.md). 2: outcomes (pass, fail, kink,
#: unreliable; timeout and error per derivation), the worst element, kinks, promoted inputs,
#: comparisons as |a − b| / tolerance, and no NaN or Infinity (null plus a ``*_nonfinite`` flag).
#: 3: writeups: every entry of ``derivations`` has a ``kind`` ("derivation" or "writeup"); a
#: writeup's checks carry ``line`` and ``latex``, and it lists ``not_checked`` (line, latex,
#: reason), ``equations`` (line, latex, status), ``sizes``, ``inferred``, ``convention``,
#: ``draws``; ``counts`` has ``writeups`` and ``not_checked``.
JSON_SCHEMA_VERSION = 3

RESULT = {"pass": "PASS", "fail": "FAIL", "kink": "KINK", "unreliable": "UNRELIABLE"}
METHOD = ("columns: worst element's |a − b| / tolerance (≤ 1 agrees); numeric = step sweep with "
          "Richardson extrapolation, tolerance from its estimated error (docs/verdicts.md)")
SECOND_ORDER = ("hessian / hvp: tape = forward-over-reverse (func.hessian, func.hvp); numeric = "
                "the same step sweep on the tape's gradient (docs/verdicts.md)")


def _has_second_order(reports: Sequence[DerivationReport]) -> bool:
    return any(c.kind in ("hessian", "hvp") for r in reports for c in r.checks)


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.1e}"


def _label(check: Check) -> str:
    """A check's target; for a writeup's check, prefixed by its line ("l.12 ∂J/∂x = …")."""
    line = getattr(check, "line", None)
    return f"l.{line} {check.target}" if line else check.target


def _status(check: Check) -> str:
    return RESULT.get(check.outcome, check.outcome.upper())


def derivation_status(report: DerivationReport) -> str:
    """PASS, FAIL, ERROR or TIMEOUT."""
    return report.outcome.upper()


def _promoted(report: DerivationReport) -> str | None:
    if not report.promoted:
        return None
    names = ", ".join(f"{k} ({v})" for k, v in report.promoted.items())
    return (f"inputs promoted to float64 for the verdict: {names} (the verdict is on the "
            "formula, computed in float64)")


def _worst_text(check: Check) -> str | None:
    if check.worst_index is None or (check.kind == "claim" and check.passed):
        return None
    parts = []
    for label, value in (("formula" if check.kind != "claim" else "lhs", check.formula_value),
                         ("tape" if check.kind != "claim" else "rhs", check.tape_value),
                         ("numeric", check.numeric_value)):
        if value is not None:
            parts.append(f"{label} {value:.10g}")
    if check.numeric_error is not None and check.numeric_value is not None:
        parts[-1] += f" ± {check.numeric_error:.2g}"
    return f"worst element {tuple(check.worst_index)}: " + ", ".join(parts)


def _not_checked(report: DerivationReport) -> list[dict[str, Any]]:
    """What a writeup lists as not checked (nothing for a derivation file)."""
    return list(getattr(report, "not_checked", None) or [])


def is_writeup_report(report: DerivationReport) -> bool:
    return hasattr(report, "not_checked") and hasattr(report, "equations")


def counts(reports: Sequence[DerivationReport], errors: Sequence[str]) -> dict[str, int]:
    """How many checks had each outcome, how many derivations errored or timed out, how many
    of the reports are writeups and how many of their equations were not checked."""
    checks = [c for r in reports for c in r.checks]
    result = {outcome: sum(c.outcome == outcome for c in checks) for outcome in RESULT}
    result["checks"] = len(checks)
    result["derivations"] = len(reports)
    result["timeouts"] = sum(r.timed_out for r in reports)
    result["errors"] = len(errors)
    result["writeups"] = sum(is_writeup_report(r) for r in reports)
    result["not_checked"] = sum(len(_not_checked(r)) for r in reports)
    return result


def summary(reports: Sequence[DerivationReport], errors: Sequence[str]) -> str:
    n = counts(reports, errors)
    extra = "".join(f", {n[k]} {label}" for k, label in (("kink", "at a kink"),
                                                           ("unreliable", "with an unreliable "
                                                                          "numeric reference"))
                    if n[k])
    timeouts = f" ({n['timeouts']} timed out)" if n["timeouts"] else ""
    writeups = f" ({n['writeups']} of them writeups)" if n["writeups"] else ""
    skipped = (f"; {n['not_checked']} writeup equation(s) not checked (listed with the reason)"
               if n["not_checked"] else "")
    return (f"{n['derivations']} derivations{writeups}, {n['checks']} checks: {n['pass']} "
            f"passed{extra}, {n['fail']} failed{skipped}; {n['errors']} could not be "
            f"verified{timeouts}")


def table(reports: Sequence[DerivationReport], errors: Sequence[str]) -> str:
    """The human-readable report: one block per derivation, one row per check."""
    lines: list[str] = [METHOD, ""] if any(r.checks for r in reports) else []
    if _has_second_order(reports):
        lines[1:1] = [SECOND_ORDER]
    header = f"  {'target':<28} {'kind':<9} {'tape~formula':>12} {'tape~numeric':>12} " \
             f"{'formula~numeric':>15}  result"
    for report in reports:
        lines.append(f"{derivation_status(report)}  {report.name}  [{report.file}]")
        if report.error:
            lines.append(f"  cannot verify: {report.error}")
            lines.append("")
            continue
        promoted = _promoted(report)
        if promoted:
            lines.append(f"  {promoted}")
        lines.append(header)
        for check in report.checks:
            target = _label(check)
            target = target if len(target) <= 28 else target[:27] + "…"
            lines.append(f"  {target:<28} {check.kind:<9} {_number(check.tape_vs_formula):>12} "
                         f"{_number(check.tape_vs_numeric):>12} "
                         f"{_number(check.formula_vs_numeric):>15}  {_status(check)}")
            if check.diagnosis is not None:
                lines.append(f"      ↳ [{check.diagnosis.kind}] {check.diagnosis.message}")
            if check.reason:
                lines.append(f"      ↳ {_status(check)}: {check.reason}")
            worst = _worst_text(check) if check.outcome != "pass" else None
            if worst:
                lines.append(f"        {worst}")
        if report.first_wrong_step:
            lines.append(f"  first wrong step of the chain: {report.first_wrong_step}")
        if is_writeup_report(report):
            from autograd_lite.writeup.present import not_checked_lines

            lines.extend(not_checked_lines(report))  # type: ignore[arg-type]
        lines.append("")
    for error in errors:
        if not any(r.error and error.endswith(r.error) for r in reports):
            lines.append(f"ERROR  {error}")
    lines.append(summary(reports, errors))
    return "\n".join(lines)


def strict_json(value: Any) -> tuple[Any, Any]:
    """``value`` with every NaN or infinity replaced by None, and a flag: None when nothing was
    replaced, 'NaN' / 'Infinity' / '-Infinity' for a number, True for a list holding one. In
    a dict each flagged key ``k`` gets a sibling ``k_nonfinite`` holding its flag."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            clean, flag = strict_json(item)
            out[key] = clean
            if flag is not None:
                out[f"{key}_nonfinite"] = flag
        return out, None
    if isinstance(value, (list, tuple)):
        cleaned = [strict_json(item) for item in value]
        flagged = any(flag is not None for _, flag in cleaned)
        return [clean for clean, _ in cleaned], (True if flagged else None)
    if isinstance(value, float) and not math.isfinite(value):
        return None, ("NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity")
    return value, None


def document(reports: Sequence[DerivationReport], errors: Sequence[str]) -> dict[str, Any]:
    """The ``--json`` document (schema in docs/verdicts.md): strict JSON, no NaN/Infinity."""
    data = {"schema": JSON_SCHEMA_VERSION,
            "passed": not errors and all(r.passed for r in reports),
            "counts": counts(reports, errors),
            "derivations": [{"kind": "derivation", **r.to_json()} for r in reports],
            "errors": list(errors)}
    return strict_json(data)[0]


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
    out += [summary(reports, errors) + ".", "",
            "Each comparison is the worst element's |a − b| / tolerance (≤ 1 agrees). KINK: the "
            "finite differences disagree only where the one-sided slopes differ; UNRELIABLE: "
            "formula and tape agree, the finite differences are in doubt. Neither is a "
            "failure. See docs/verdicts.md.", ""]
    if _has_second_order(reports):
        out += [SECOND_ORDER[0].upper() + SECOND_ORDER[1:] + ".", ""]
    if errors:
        out += ["## Could not be verified", ""] + [f"- {e}" for e in errors] + [""]
    included: set[Path] = set()
    written_up = {Path(r.file).resolve() for r in reports
                  if is_writeup_report(r) and r.file is not None and r.error is None}
    for i, report in enumerate(reports):
        if is_writeup_report(report):  # its math, each equation marked
            from autograd_lite.writeup.present import markdown_section

            out += [markdown_section(report), ""]  # type: ignore[arg-type]
            if report.file is not None and report.error is None:
                included.add(Path(report.file).resolve())
            continue
        out += [f"## {report.name}", "", f"File: `{report.file}` — "
                f"**{derivation_status(report)}**", ""]
        if report.error:
            out += [f"Cannot verify: {report.error}", ""]
            continue
        promoted = _promoted(report)
        if promoted:
            out += [f"Note: {promoted}.", ""]
        out += ["| target | kind | tape vs formula | tape vs numeric | formula vs numeric | "
                "result |", "|---|---|---|---|---|---|"]
        for check in report.checks:
            out.append(f"| {check.target} | {check.kind} | {_number(check.tape_vs_formula)} | "
                       f"{_number(check.tape_vs_numeric)} | {_number(check.formula_vs_numeric)} "
                       f"| {_status(check)} |")
        for check in report.checks:
            if check.diagnosis:
                out.append(f"\n- **{check.target}** [{check.diagnosis.kind}]: "
                           f"{check.diagnosis.message}")
            if check.reason:
                out.append(f"\n- **{check.target}** {_status(check)}: {check.reason}")
            worst = _worst_text(check) if check.outcome != "pass" else None
            if worst:
                out.append(f"  ({worst})")
        explanation = explanation_of(report)
        if explanation is not None:  # a failing target: the backward pass, step by step
            body = re.sub(r"^#", "####", explanation.markdown, flags=re.M)
            out += ["", "<details><summary>The backward pass of the loss, step by step "
                    "(<code>al.explain</code>)</summary>", "", body, "", "</details>"]
        if graphs and i in graphs:
            relative = Path(_relative(graphs[i], directory))
            out += ["", f"![graph of {report.name}]({relative.as_posix()})"]
        source = _source_path(report)
        if source is not None and source.resolve() in written_up:
            out += ["", f"The derivation: `{source.name}`, checked as written in its own "
                    "section of this report."]
        elif source is not None and source.resolve() not in included and source.is_file():
            included.add(source.resolve())
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
