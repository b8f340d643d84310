"""The verify report and its formats: text for people, JSON for tools. It decides nothing."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from lint_train.runtime.events import OptimizerInfo
from lint_train.runtime.findings import RuntimeFinding
from lint_train.runtime.lrprobe import Diagnosis, count, to_data, to_lines
from lint_train.runtime.trend import LossTrend, ObjectiveTrend, Verdict


@dataclass(frozen=True)
class StaticFinding:
    line: int
    column: int
    code: str
    name: str
    message: str
    cell: int | None = None  # in a notebook: the cell that `line` counts within

    @property
    def where(self) -> str:
        spot = f"{self.line}:{self.column}"
        return spot if self.cell is None else f"cell {self.cell}:{spot}"


@dataclass(frozen=True)
class Report:
    script: str
    args: list[str]
    status: str  # finished | stopped | failed
    how: str  # one line on how the run ended
    seconds: float
    error: str | None  # the script's own error, with its traceback, when status is failed
    output_tail: str
    steps: int
    backward_calls: int
    zero_grad_calls: int
    optimizers: list[OptimizerInfo]
    trend: LossTrend
    verdict: Verdict
    findings: list[RuntimeFinding]
    static: list[StaticFinding] | None = None  # None: not asked for
    static_error: str | None = None
    # Problems silenced by noqa comments: the static findings (a runtime finding silenced with
    # one is the same problem, not counted again).
    suppressed: int = 0
    exit_code: int = field(default=0)
    lr_diagnosis: Diagnosis | None = None  # the learning-rate probes, when they ran
    # The losses split by the optimizers that stepped on them (objectives.py); shown when
    # there are two or more.
    objectives: list[ObjectiveTrend] = field(default_factory=list)


def agreement(report: Report) -> dict[str, list[str]]:
    """Codes seen by both sides, only statically, only at runtime."""
    static = {f.code for f in report.static or []}
    runtime = {f.code for f in report.findings}
    return {
        "both": sorted(static & runtime),
        "static_only": sorted(static - runtime),
        "runtime_only": sorted(runtime - static),
    }


def problem_count(report: Report) -> int:
    """The problems found: each static finding, and each runtime finding of a code the static
    side did not report (one problem seen by both sides counts once)."""
    static = report.static or []
    codes = {f.code for f in static}
    return len(static) + sum(f.code not in codes for f in report.findings)


def to_text(report: Report) -> str:
    lines = [f"verify {report.script}  ({report.how}, {report.seconds:.1f} s)"]
    if report.error:
        lines += _field("error", report.error.rstrip())
    elif report.status == "failed" and report.output_tail.strip():
        lines += _field("output", _last_lines(report.output_tail, 15))
    counts = [
        count(report.steps, "optimizer step"),
        count(report.backward_calls, "backward call"),
        count(report.zero_grad_calls, "zero_grad call"),
    ]
    types = ", ".join(o.type for o in report.optimizers)
    optimizers = f" ({types})" if types else ""
    lines += _field("counts", ", ".join(counts) + optimizers)
    lines += _field("loss", _loss_line(report.trend))
    if len(report.objectives) > 1:
        lines += _field("objectives", "\n".join(map(_objective_line, report.objectives)))
    if report.static is not None:
        lines += _static_lines(report)
    runtime = [f"{f.code} {f.name}  {f.message}" for f in report.findings] or ["none"]
    lines += _field("runtime", "\n".join(runtime))
    if report.static is not None:
        lines += _field("agreement", _agreement_line(report))
    if report.lr_diagnosis is not None:
        probes, conclusion = to_lines(report.lr_diagnosis)
        lines += _field("lr probes", probes)
        lines += _field("diagnosis", conclusion)
    lines.append(f"verdict: {_verdict_line(report)}")
    return "\n".join(lines) + "\n"


def to_json(report: Report) -> str:
    trend = report.trend
    data: dict[str, Any] = {
        "script": report.script,
        "args": report.args,
        "status": report.status,
        "how": report.how,
        "seconds": round(report.seconds, 3),
        "error": report.error,
        "output_tail": report.output_tail,
        "steps": report.steps,
        "backward_calls": report.backward_calls,
        "zero_grad_calls": report.zero_grad_calls,
        "optimizers": [
            {"type": o.type, "hyperparameters": o.hyperparameters} for o in report.optimizers
        ],
        "loss": {
            "values": [_finite_or_none(v) for v in trend.values],
            "window": trend.window,
            "first_window_mean": trend.first,
            "last_window_mean": trend.last,
            "relative_change": trend.relative_change,
            "noise": trend.noise,
            "sparkline": trend.sparkline,
        },
        "verdict": {
            "trained": report.verdict.trained,
            "threshold": report.verdict.threshold,
            "reason": report.verdict.reason,
            "adversarial": report.verdict.adversarial,
        },
        "objectives": [
            {
                "name": o.name,
                "count": len(o.trend.values),
                "first_window_mean": o.trend.first,
                "last_window_mean": o.trend.last,
                "relative_change": o.trend.relative_change,
                "noise": o.trend.noise,
                "opposition": o.opposition,
                "coupled": o.coupled,
                "sparkline": o.trend.sparkline,
            }
            for o in report.objectives
        ],
        "findings": [
            {"code": f.code, "name": f.name, "message": f.message, "count": f.count}
            for f in report.findings
        ],
        "finding_count": problem_count(report),
        "suppressed": report.suppressed,
        "exit_code": report.exit_code,
    }
    if report.lr_diagnosis is not None:
        data["lr_diagnosis"] = to_data(report.lr_diagnosis)
    if report.static is not None or report.static_error:
        data["static"] = {
            "findings": [
                {
                    "line": f.line,
                    "column": f.column,
                    "code": f.code,
                    "name": f.name,
                    "message": f.message,
                    **({} if f.cell is None else {"cell": f.cell}),
                }
                for f in report.static or []
            ],
            "error": report.static_error,
            "agreement": agreement(report),
        }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


LR_CAUSES = {"lr-too-high": "learning rate too high", "lr-too-low": "learning rate too low"}


def _static_lines(report: Report) -> list[str]:
    if report.static_error:
        return _field("static", f"not available: {report.static_error}")
    rows = [f"{f.where} {f.code} {f.name}  {f.message}" for f in report.static or []]
    return _field("static", "\n".join(rows) or "none")


def _agreement_line(report: Report) -> str:
    parts = agreement(report)
    words = []
    if parts["both"]:
        words.append(f"seen by both: {', '.join(parts['both'])}")
    if parts["static_only"]:
        words.append(f"static only: {', '.join(parts['static_only'])}")
    if parts["runtime_only"]:
        words.append(f"runtime only: {', '.join(parts['runtime_only'])}")
    return "; ".join(words) or "both sides found nothing"


def _verdict_line(report: Report) -> str:
    if report.status == "failed":
        return f"the script failed ({report.how}); exit 2"
    verdict = report.verdict
    trained = "trained" if verdict.trained else "did not train"
    # The adversarial verdict says in one breath all that made it: both sides' losses, their
    # steps, and that nothing was seen wrong.
    quiet = ", no runtime finding" if verdict.adversarial and verdict.trained else ""
    line = f"{trained} ({verdict.reason}{quiet if not report.findings else ''})"
    cause = report.lr_diagnosis.cause if report.lr_diagnosis else None
    if cause in LR_CAUSES:
        line += f"; {LR_CAUSES[cause]} (see diagnosis)"
    found = problem_count(report)
    if found:
        line += f"; {count(found, 'finding')}"
    if report.suppressed:
        line += f" ({report.suppressed} suppressed by noqa)"
    return f"{line}; exit {report.exit_code}"


def _loss_line(trend: LossTrend) -> str:
    n = len(trend.values)
    if trend.first is None or trend.last is None:
        return f"{count(n, 'value')}  {trend.sparkline}".rstrip()
    change = "" if trend.relative_change is None else f", {trend.relative_change:+.1%}"
    return (
        f"{trend.first:.4g} -> {trend.last:.4g}  (means of the first and last {trend.window} of "
        f"{n} values{change})\n{trend.sparkline}"
    )


def _objective_line(objective: ObjectiveTrend) -> str:
    trend = objective.trend
    if trend.first is None or trend.last is None or trend.relative_change is None:
        return f"{objective.name}: {count(len(trend.values), 'value')}  {trend.sparkline}"
    return (
        f"{objective.name}: {trend.first:.4g} -> {trend.last:.4g}  ({trend.relative_change:+.1%} "
        f"over {len(trend.values)} values)  {trend.sparkline}"
    )


def _field(label: str, text: str) -> list[str]:
    body = text.splitlines() or [""]
    return [f"  {label:<10} {body[0]}"] + [f"  {'':<10} {line}" for line in body[1:]]


def _last_lines(text: str, count: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-count:])


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
