"""`lint-train verify SCRIPT [-- ARGS...]`: run a training script and report what it really did.

The parent side: it starts the child (launch.py), reads back the probe's events (events.py),
turns them into findings (findings.py) and a loss verdict (trend.py), probes the learning rate
when the run diverged or stagnated unexplained (lrprobe.py), and prints the report (report.py).
`--lr-find` runs the range test of lrfind.py instead. The lead's cli.py calls `main(argv)`
with the words after `verify`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from lint_train.config import Config, ConfigError, find_config, load_config
from lint_train.notebook import Program, is_notebook, to_program
from lint_train.runtime.device import needs_cuda
from lint_train.runtime.events import Observation, parse_events
from lint_train.runtime.findings import RuntimeFinding, find
from lint_train.runtime.launch import ChildRun, run_child
from lint_train.runtime.lrfind import DEFAULT_STEPS as LR_FIND_STEPS
from lint_train.runtime.lrfind import lr_find
from lint_train.runtime.lrfind import to_data as lr_find_data
from lint_train.runtime.lrfind import to_text as lr_find_text
from lint_train.runtime.lrprobe import Diagnosis, Trial, diagnose, run_trial, symptom
from lint_train.runtime.objectives import objective_trends
from lint_train.runtime.plot import write_lr_plot, write_plot
from lint_train.runtime.report import Report, StaticFinding, to_json, to_text
from lint_train.runtime.trend import THRESHOLD, judge, judge_objectives, loss_trend
from lint_train.source import SourceError

DEFAULT_MAX_STEPS = 1000
DEFAULT_TIMEOUT = 300.0

DESCRIPTION = """\
Run a training script in a child process with light instrumentation, then report what it did:
optimizer steps, backward and zero_grad calls, the loss trajectory, and runtime findings with
the same codes as the static rules (TRN001-TRN007, TRN009-TRN011).

WARNING: verify EXECUTES the script: arbitrary Python code runs with your permissions, your
files and your network. Only verify scripts you would run yourself.

When the run diverges or stagnates and no runtime finding explains it, short runs of the same
script with every optimizer's learning rate scaled (0.1x, 10x, ...) say whether the rate is the
cause (--no-lr-probes turns them off). --lr-find runs a learning-rate range test instead.

Exit status: 0 the loss fell by at least the threshold and nothing was found; 1 it did not
train, or something was found; 2 the script failed (its error is shown) or verify could not run.
"""

EPILOG = """\
Arguments after `--` go to the script: lint-train verify train.py -- --epochs 2
The script stops after --max-steps optimizer steps (or backward calls, if it never steps) or
after --timeout seconds, and is still reported on.
A notebook (.ipynb) runs as its code cells in order, as one script, with IPython lines (%magic,
!shell) skipped as the linter skips them; errors name the cell and line.
"""


@dataclass(frozen=True)
class Options:
    max_steps: int = DEFAULT_MAX_STEPS
    timeout: float = DEFAULT_TIMEOUT
    threshold: float = THRESHOLD
    static: bool = False
    # torch's intra-op threads in the child; None leaves torch's default. One thread is much
    # cheaper for tiny models, above all when several runs share the cores.
    threads: int | None = None
    # The configuration whose select, ignore and per-file-ignores apply (None: the nearest
    # pyproject.toml's [tool.lint-train] above the script, if any).
    config: Config | None = None
    # When the run diverged or stagnated with no runtime finding to explain it: probe the
    # learning rate with short runs of the same script (lrprobe.py). The CLI turns it on.
    lr_probes: bool = False
    # "cpu": `.cuda()` and CUDA devices mean the CPU in the script (device.py); None: as written.
    device: str | None = None


def verify_script(script: str, args: Sequence[str] = (), options: Options = Options()) -> Report:
    """Run SCRIPT with ARGS under the probe and build its report. A notebook runs as the
    linter reads it: its code cells in order, as one program, IPython lines skipped; raises
    SourceError when it cannot be read as one."""
    program = notebook_program(script) if is_notebook(script) else None
    source = program.text if program is not None else None
    run = run_child(
        script,
        list(args),
        options.max_steps,
        options.timeout,
        options.threads,
        source,
        device=options.device,
    )
    seen = parse_events(run.event_lines)
    status, how, error = _outcome(seen, run, options)
    if status == "failed" and program is None:
        how = _needs_cuda(seen, script, options) or how
    if program is not None:
        how = in_cells(how, script, program)
        error = None if error is None else in_cells(error, script, program)
    trend = loss_trend([v for v in seen.losses if v is not None])
    view = _lint_view(script, options.config or script_config(script))
    # A runtime finding a noqa comment silenced is the problem of a static finding it silenced too:
    # the suppressed problems are those static findings, counted once as lint-train counts them.
    seen_findings = find(seen, cut_short=status == "stopped")
    runtime, _ = view.runtime(seen_findings)
    # Adversarial training (a GAN) is judged loss by loss; any other run by its losses together.
    objectives = objective_trends(seen)
    verdict = judge_objectives(objectives, options.threshold, [f.code for f in runtime]) or judge(
        trend, options.threshold
    )
    report = Report(
        script=script,
        args=list(args),
        status=status,
        how=how,
        seconds=run.seconds,
        error=error,
        output_tail=run.output_tail,
        steps=len(seen.steps),
        backward_calls=len(seen.losses),
        zero_grad_calls=seen.zero_grads,
        optimizers=seen.optimizers,
        trend=trend,
        verdict=verdict,
        objectives=objectives,
        findings=runtime,
        static=view.static if options.static else None,
        static_error=view.error if options.static else None,
        suppressed=len(view.suppressed),
    )
    if options.lr_probes:
        # Any finding, selected or not, is evidence of another cause than the learning rate.
        kind = symptom(seen, trend, report.verdict.trained, bool(seen_findings))
        if kind is not None:
            diagnosis = _probe_lr(kind, script, args, options, seen, source)
            report = replace(report, lr_diagnosis=diagnosis)
    return replace(report, exit_code=exit_code(report))


def _probe_lr(
    kind: str,
    script: str,
    args: Sequence[str],
    options: Options,
    seen: Observation,
    source: str | None,
) -> Diagnosis:
    """Probe the learning rate for as many optimizer steps as the first run took."""
    steps = min(len(seen.steps), options.max_steps)

    def run(scale: float) -> Trial:
        return run_trial(
            script,
            args,
            scale,
            steps,
            options.timeout,
            options.threads,
            source,
            options.threshold,
            options.device,
        )

    return diagnose(kind, seen, loss_trend([v for v in seen.losses if v is not None]), run)


def notebook_program(script: str) -> Program:
    """The notebook's code cells as the program verify runs; SourceError when there is none."""
    program = to_program(Path(script).read_bytes())
    if not program.cells:
        raise SourceError("no Python code cells to run")
    return program


def in_cells(text: str, script: str, program: Program) -> str:
    """`text` (a traceback, an error message) with the program's lines given as the notebook's
    cells and lines, as the linter gives them: `File "nb.ipynb", cell 4, line 2`."""
    name = re.escape(script)

    def frame(match: re.Match[str]) -> str:
        return f'File "{match.group(1)}", {program.where(int(match.group(2)))}'

    def syntax(match: re.Match[str]) -> str:
        return f"({match.group(1)}, {program.where(int(match.group(2)))})"

    text = re.sub(rf'File "({name})", line (\d+)', frame, text)
    return re.sub(rf"\(({name}), line (\d+)\)", syntax, text)


def exit_code(report: Report) -> int:
    if report.status == "failed":
        return 2
    if report.findings or report.static or not report.verdict.trained:
        return 1
    return 0


def _outcome(seen: Observation, run: ChildRun, options: Options) -> tuple[str, str, str | None]:
    """(status, how it ended in words, the script's error with traceback)."""
    if seen.outcome == "finished":
        return "finished", "ran to the end", None
    if seen.outcome == "stopped":
        if seen.stop_reason == "max-steps":
            return "stopped", f"stopped at --max-steps {options.max_steps}", None
        return "stopped", f"stopped at --timeout {options.timeout:g} s", None
    if seen.outcome == "exit":
        if seen.exit_code == 0:
            return "finished", "exited with status 0", None
        return "failed", f"exited with status {seen.exit_code}", None
    if seen.outcome == "error":
        return "failed", f"{seen.error_type}: {seen.error_message}", seen.error_traceback
    # No end event: the child died before the probe could write it.
    if run.timed_out:
        return "stopped", f"killed at --timeout {options.timeout:g} s", None
    if run.returncode < 0:
        return "failed", f"killed by {_signal_name(-run.returncode)}", None
    if run.returncode == 0:
        return "finished", "exited with status 0 (os._exit)", None
    return "failed", f"exited with status {run.returncode} before it could be observed", None


def _needs_cuda(seen: Observation, script: str, options: Options) -> str | None:
    """The explanation of a script that stopped for want of CUDA, with the way out."""
    why = needs_cuda(seen.error_message, seen.error_traceback, script)
    if why is None or options.device == "cpu":
        return why
    return f"{why}; rerun with --device cpu to run .cuda() and .to('cuda') on the CPU"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def script_config(script: str) -> Config:
    """The configuration `lint-train SCRIPT` would use; ConfigError when it is unusable."""
    found = find_config([script])
    return load_config(found) if found else Config()


@dataclass
class _LintView:
    """What `lint-train` would say of the script, with the configuration and `# noqa` applied:
    the codes it selects for the file, its findings, and those `# noqa` silences."""

    codes: Callable[[str], bool]
    static: list[StaticFinding] | None = None  # None: the script could not be linted
    suppressed: list[StaticFinding] = field(default_factory=list)
    error: str | None = None

    def runtime(self, findings: list[RuntimeFinding]) -> tuple[list[RuntimeFinding], int]:
        """The runtime findings to report, and how many a `# noqa` silenced: those of a code
        the configuration does not select, and those whose code the script's lint reports
        only on lines that `# noqa` suppresses (the same problem, silenced where it is)."""
        kept = {f.code for f in self.static or []}
        silenced = {f.code for f in self.suppressed} - kept
        selected = [f for f in findings if self.codes(f.code)]
        return [f for f in selected if f.code not in silenced], sum(
            f.code in silenced for f in selected
        )


def _lint_view(script: str, config: Config) -> _LintView:
    from lint_train import noqa
    from lint_train.engine import Selection, lint_file
    from lint_train.sourcelines import Sources

    # Preview rules run, statically and at runtime, only when preview is on, as in lint-train.
    rules = Selection(config.select, config.ignore, config.preview).rules()
    chosen = {rule.info.code for rule in rules}
    ignored = config.ignored_codes(script)
    view = _LintView(lambda code: code in chosen and not code.startswith(ignored))
    try:
        findings = [f for f in lint_file(script, rules) if view.codes(f.code)]
    except Exception as error:  # the runtime report is still worth printing
        view.error = str(error) or type(error).__name__
        return view
    shown, silenced = noqa.split(findings, Sources())
    view.static = [
        StaticFinding(f.line, f.column, f.code, f.name, f.message, f.location.cell) for f in shown
    ]
    view.suppressed = [
        StaticFinding(f.line, f.column, f.code, f.name, f.message, f.location.cell)
        for f in silenced
    ]
    return view


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lint-train verify",
        usage="%(prog)s [options] SCRIPT [-- ARGS...]",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("script", metavar="SCRIPT", help="the training script to run")
    parser.add_argument(
        "--max-steps",
        type=_positive_int,
        metavar="N",
        help=f"stop after N optimizer steps (default {DEFAULT_MAX_STEPS}; with --lr-find, "
        f"each run, default {LR_FIND_STEPS})",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"stop after this many seconds (default {DEFAULT_TIMEOUT:g}; with --lr-find, "
        "the whole test)",
    )
    parser.add_argument(
        "--threshold",
        type=_fraction,
        default=THRESHOLD,
        metavar="FRACTION",
        help=f"how much the loss must fall to count as trained (default {THRESHOLD:g})",
    )
    parser.add_argument(
        "--threads",
        type=_positive_int,
        metavar="N",
        help="torch intra-op threads in the script (default: torch's choice)",
    )
    parser.add_argument(
        "--device",
        choices=("cpu",),
        help="cpu: run a script written for a GPU on the CPU (.cuda(), .to('cuda') and "
        "device='cuda' mean the CPU)",
    )
    parser.add_argument(
        "--output-format",
        choices=("text", "json"),
        default="text",
        help="text (default) or json, on stdout",
    )
    parser.add_argument("--plot", metavar="FILE.png", help="draw the loss curve (needs matplotlib)")
    parser.add_argument(
        "--static",
        action="store_true",
        help="also lint the script and show the static and runtime findings side by side",
    )
    parser.add_argument(
        "--lr-find",
        action="store_true",
        help="instead of one run, a learning-rate range test: short runs with every "
        "optimizer's lr scaled over a log grid; prints each and a suggested lr",
    )
    parser.add_argument(
        "--no-lr-probes",
        action="store_true",
        help="when the run diverges or stagnates, do not probe the learning rate with short "
        "runs of the script at scaled rates",
    )
    parser.add_argument(
        "--preview",
        action="store_true",
        help="also the rules in preview, static and runtime (as `preview = true` does)",
    )
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer: {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text}")
    return value


def main(argv: list[str]) -> int:
    """Entry point for `lint-train verify`; argv excludes the word `verify`."""
    own, script_args = _split_at_dashes(argv)
    try:
        options = _parser().parse_args(own)
    except SystemExit as stop:  # --help, or a usage error already printed by argparse
        return 0 if stop.code == 0 else 2
    if not Path(options.script).is_file():
        print(f"lint-train verify: error: no such file: {options.script}", file=sys.stderr)
        return 2
    if importlib.util.find_spec("torch") is None:
        print(
            "lint-train verify: error: torch is not installed; pip install 'lint-train[runtime]'",
            file=sys.stderr,
        )
        return 2
    try:
        config = script_config(options.script)
        if options.preview:
            config = replace(config, preview=True)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    if options.lr_find:
        return _lr_find(options, script_args)
    try:
        report = verify_script(
            options.script,
            script_args,
            Options(
                max_steps=options.max_steps or DEFAULT_MAX_STEPS,
                timeout=options.timeout,
                threshold=options.threshold,
                static=options.static,
                threads=options.threads,
                config=config,
                lr_probes=not options.no_lr_probes,
                device=options.device,
            ),
        )
    except SourceError as exc:  # a notebook that cannot be run as one program
        print(f"lint-train verify: error: {options.script}: {exc}", file=sys.stderr)
        return 2
    formatted = to_json(report) if options.output_format == "json" else to_text(report)
    sys.stdout.write(formatted)
    if options.plot:
        why_not = write_plot(report.trend.values, options.plot, options.script)
        if why_not:
            print(f"lint-train verify: no plot written: {why_not}", file=sys.stderr)
    return report.exit_code


def _lr_find(options: argparse.Namespace, script_args: list[str]) -> int:
    script = options.script
    try:
        source = notebook_program(script).text if is_notebook(script) else None
    except SourceError as exc:
        print(f"lint-train verify: error: {script}: {exc}", file=sys.stderr)
        return 2
    test = lr_find(
        script,
        script_args,
        options.max_steps or LR_FIND_STEPS,
        options.timeout,
        options.threads,
        source,
        options.threshold,
        options.device,
    )
    if options.output_format == "json":
        data = {"script": script, "args": script_args, "lr_find": lr_find_data(test)}
        sys.stdout.write(json.dumps({**data, "exit_code": test.exit_code}, indent=2) + "\n")
    else:
        sys.stdout.write(lr_find_text(test))
    if options.plot:
        why_not = write_lr_plot(test, options.plot)
        if why_not:
            print(f"lint-train verify: no plot written: {why_not}", file=sys.stderr)
    return test.exit_code


def _split_at_dashes(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" in argv:
        cut = argv.index("--")
        return argv[:cut], argv[cut + 1 :]
    return argv, []
