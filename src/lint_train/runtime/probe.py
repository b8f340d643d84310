"""Instrumentation that runs inside the child process, installed before the user's script starts.

`child_main` runs in a process forked from a server that has already imported torch
(forkserver.py), so each run skips the second or two torch takes to import. This module needs
nothing but the standard library and torch, imported lazily. The probe records facts, one JSON
object per line, flushed as it goes, so a child killed at a timeout still leaves its record
behind. It draws no conclusions: `findings.py` in the parent does that from the events.

Events (field `ev`):
  start      python and torch versions
  optimizer  an optimizer was built: i, type, hyperparameters, name (the variable the script's
             line assigned it to, `opt_d = torch.optim.Adam(...)`, or None)
  forward    the outermost call of a module with parameters returned: i, module, training,
             layers (dropout/batch-norm layers inside), active (those in training mode),
             grad (torch.is_grad_enabled()), graph (the output requires grad)
  used       the graph of forward `forward` was used by backward `backward` (None when it was
             used by torch.autograd.grad, which does not train anything)
  backward   i, loss (the scalar backward was called on, or None)
  reached    backward `backward` accumulated gradients into the parameters of optimizers `opts`
             (logged after it returned, when it reached any)
  grads      a backward reached the parameters of optimizer `opt` (logged once per optimizer)
  zero_grad  by: "optimizer" or "module"; dropped: it threw away gradients no step had used yet
             (cleared outside an optimizer's step: an LBFGS closure's clears are its own)
  step       i, opt (which optimizer), stale (how many of its parameters' gradients still
             held a gradient that an earlier step had already used: they were not cleared),
             empty (none of its parameters had a gradient to apply), graphs (how many graphs
             that backward passes were called on were still alive)
  kept_graphs  the live graphs had risen at RISING_STEPS steps in a row (graphs.py), logged
             once: step, and the variable found holding them (name, graphs, file, line) or None
  lr_step    a learning-rate scheduler stepped (not the step its constructor takes): the file
             and line that called it
  warning    torch warned that `lr_scheduler.step()` ran before `optimizer.step()`
  loss_input a loss that expects logits (cross_entropy, nll_loss, binary_cross_entropy_with_
             logits) was called from the script's file and line: loss, probs (whether its input
             looked like probabilities: summing to 1 along the class dimension, or all in
             [0, 1]); logged at a site's first call and whenever the answer changes
  end        outcome: finished | stopped (reason) | exit (code) | error (type, message, traceback)
"""

from __future__ import annotations

import builtins
import functools
import json
import linecache
import os
import re
import runpy
import signal
import sys
import traceback
import types
import warnings
import weakref
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from lint_train.runtime.graphs import KeptGraphs, find_holder

# The start of torch's own warning about the order of the two steps (lr_scheduler.py).
SCHEDULER_ORDER_WARNING = "Detected call of `lr_scheduler.step()` before `optimizer.step()`"


class StopRun(BaseException):
    """Ends the user's script at a bound.

    A BaseException, like KeyboardInterrupt, so that `except Exception:` in the script does not
    swallow it.
    """


class EventLog:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, kind: str, **fields: Any) -> None:
        self._stream.write(json.dumps({"ev": kind, **fields}) + "\n")


@dataclass
class GradState:
    """What the probe knows about one parameter's `.grad` since the last optimizer step."""

    # A weak reference, because holding the gradient would change how autograd accumulates it.
    ref: Any = None
    # The gradient in `.grad` was already used by an optimizer step.
    stepped: bool = False
    # A backward then added to that used gradient instead of to a cleared one.
    polluted: bool = False


@dataclass
class Probe:
    log: EventLog
    max_steps: int
    steps: int = 0
    backwards: int = 0
    forwards: int = 0
    stop_reason: str | None = None
    optimizers: dict[int, int] = field(default_factory=dict)
    grads: dict[int, tuple[Any, GradState]] = field(default_factory=dict)
    # One entry per module call in progress: the recorded forward's fields, or None.
    open_calls: list[dict[str, Any] | None] = field(default_factory=list)
    recorded_open: int = 0
    used: set[int] = field(default_factory=set)
    running_backward: int | None = None
    # Optimizers (by index) whose parameters the backward in progress has reached.
    reaching: set[int] = field(default_factory=set)
    reached_once: set[int] = field(default_factory=set)
    layer_cache: Any = field(default_factory=weakref.WeakKeyDictionary)
    # Optimizers (by id) whose step about to run has no gradient to apply: every `.grad` of
    # their parameters is None or zero (TRN006 when a clear came after the backward pass).
    empty: set[int] = field(default_factory=set)
    # Optimizer steps running (an LBFGS closure clears and runs backward inside its step).
    in_step: int = 0
    # (loss, file, line) -> whether the last input there looked like probabilities
    loss_inputs: dict[tuple[str, str, int], bool] = field(default_factory=dict)
    # The graphs backward passes were called on, and how many of them the script keeps (TRN007).
    graphs: KeptGraphs = field(default_factory=KeptGraphs)

    def stop(self, reason: str) -> None:
        self.stop_reason = reason
        raise StopRun(reason)

    # -- optimizers -------------------------------------------------------------------------

    def optimizer_built(self, optimizer: Any) -> None:
        index = len(self.optimizers)
        self.optimizers[id(optimizer)] = index
        self.log.write(
            "optimizer",
            i=index,
            type=type(optimizer).__name__,
            hyperparameters=_plain(optimizer.defaults),
            name=_assigned_name(),
        )
        self._watch_gradients(index, _params_of(optimizer))

    def _watch_gradients(self, index: int, params: list[Any]) -> None:
        """Note which backward reaches this optimizer's parameters (which losses it can train
        on: a GAN's generator loss reaches the discriminator too), and log the first."""
        # A frozen parameter (requires_grad=False) handed to the optimizer takes no hook, and
        # no backward reaches it.
        params = [
            p
            for p in params
            if hasattr(p, "register_post_accumulate_grad_hook") and getattr(p, "requires_grad", 0)
        ]

        def reached(param: Any) -> None:
            self.reaching.add(index)
            if index not in self.reached_once:
                self.reached_once.add(index)
                self.log.write("grads", opt=index)

        for param in params:
            param.register_post_accumulate_grad_hook(reached)

    def before_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if self.stop_reason is not None:
            # The script caught StopRun and carried on training; stop it again.
            raise StopRun(self.stop_reason)
        for param in _params_of(optimizer):
            entry = self.grads.get(id(param))
            if entry is not None:
                _forget_if_cleared(param, entry[1])
        if _no_gradient(_params_of(optimizer)):
            self.empty.add(id(optimizer))
        self.in_step += 1

    def after_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self.steps += 1
        self.in_step = max(self.in_step - 1, 0)
        stale = 0
        for param in _params_of(optimizer):
            if param.grad is None:
                continue
            _, state = self.grads.setdefault(id(param), (param, GradState()))
            stale += state.polluted
            state.ref = weakref.ref(param.grad)
            state.stepped, state.polluted = True, False
        if id(optimizer) not in self.optimizers:
            self.optimizer_built(optimizer)
        empty = id(optimizer) in self.empty
        self.empty.discard(id(optimizer))
        rising = self.graphs.after_step()
        self.log.write(
            "step",
            i=self.steps - 1,
            opt=self.optimizers[id(optimizer)],
            stale=stale,
            empty=empty,
            graphs=self.graphs.live,
        )
        if rising:
            holder = find_holder(sys._getframe())
            found = None if holder is None else asdict(holder)
            self.log.write("kept_graphs", step=self.steps - 1, holder=found)
        # No module call is open at an optimizer step. A forward that raised skipped its forward
        # hook and left its entry behind; starting afresh here keeps one such error from hiding
        # every later forward.
        self.open_calls.clear()
        self.recorded_open = 0
        if self.steps >= self.max_steps:
            self.stop("max-steps")

    def zero_grad_called(self, by: str, params: Any) -> None:
        params = list(params)
        dropped = not self.in_step and self._unused_gradient(params)
        self.log.write("zero_grad", by=by, dropped=dropped)
        for param in params:
            entry = self.grads.get(id(param))
            if entry is not None:
                entry[1].stepped = entry[1].polluted = False

    def _unused_gradient(self, params: list[Any]) -> bool:
        """Whether some parameter holds a gradient that no step has used: a backward pass
        filled it since the last step or clear. Parameters whose gradient a step used are
        skipped without looking at their values, so the usual clear after a step is cheap."""
        for param in params:
            grad = getattr(param, "grad", None)
            if grad is None:
                continue
            entry = self.grads.get(id(param))
            if entry is not None:
                _forget_if_cleared(param, entry[1])
                if entry[1].stepped and not entry[1].polluted:
                    continue
            if grad.is_sparse or bool(grad.any()):
                return True
        return False

    # -- backward ---------------------------------------------------------------------------

    def run_backward(self, original: Any, tensors: Any, *args: Any, **kwargs: Any) -> Any:
        if self.stop_reason is not None:
            raise StopRun(self.stop_reason)
        index = self.backwards
        self.backwards += 1
        self.log.write("backward", i=index, loss=_scalar(tensors))
        self.graphs.tag(tensors)
        watched = self._stepped_grads()
        outer, self.running_backward = self.running_backward, index
        outer_reach, self.reaching = self.reaching, set()
        try:
            result = original(tensors, *args, **kwargs)
        finally:
            self.running_backward = outer
            reached, self.reaching = self.reaching, outer_reach | self.reaching
        if reached:
            self.log.write("reached", backward=index, opts=sorted(reached))
        for param, state, version in watched:
            grad = param.grad
            if grad is not None and (grad is not state.ref() or grad._version != version):
                state.polluted = True
                state.ref = weakref.ref(grad)
        if self.steps == 0 and self.backwards >= self.max_steps:
            # A script that never steps would otherwise only ever stop at the timeout.
            self.stop("max-steps")
        return result

    def _stepped_grads(self) -> list[tuple[Any, GradState, int]]:
        watched = []
        for param, state in self.grads.values():
            if state.stepped:
                _forget_if_cleared(param, state)
            if state.stepped:
                watched.append((param, state, param.grad._version))
        return watched

    # -- forward ----------------------------------------------------------------------------

    def before_forward(self, module: Any, args: Any) -> None:
        import torch

        layers, has_params = self._describe(module)
        if self.recorded_open or not has_params:
            # Inner modules and parameter-free ones (loss modules) belong to the outer call.
            self.open_calls.append(None)
            return
        self.recorded_open += 1
        self.open_calls.append(
            {
                "i": self.forwards,
                "module": type(module).__name__,
                "training": module.training,
                "layers": len(layers),
                "active": sum(layer.training for layer in layers),
                "grad": torch.is_grad_enabled(),
            }
        )
        self.forwards += 1

    def after_forward(self, module: Any, args: Any, output: Any) -> None:
        if not self.open_calls:
            return
        call = self.open_calls.pop()
        if call is None:
            return
        self.recorded_open -= 1
        graph = False
        for tensor in _tensors_in(output):
            if tensor.requires_grad:
                tensor.register_hook(functools.partial(self._graph_used, call["i"]))
                graph = True
        self.log.write("forward", graph=graph, **call)

    def _graph_used(self, index: int, grad: Any) -> None:
        if index not in self.used:
            self.used.add(index)
            self.log.write("used", forward=index, backward=self.running_backward)

    # -- losses that expect logits ------------------------------------------------------------

    def loss_called(self, loss: str, tensor: Any) -> None:
        import torch

        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            return
        site = _script_caller()
        if site is None:
            return
        probs = _looks_like_probabilities(loss, tensor)
        key = (loss, *site)
        if self.loss_inputs.get(key) != probs:
            self.loss_inputs[key] = probs
            self.log.write("loss_input", loss=loss, file=site[0], line=site[1], probs=probs)

    def _describe(self, module: Any) -> tuple[list[Any], bool]:
        cached = self.layer_cache.get(module)
        if cached is None:
            from torch import nn

            kinds = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm)
            layers = [m for m in module.modules() if isinstance(m, kinds)]
            has_params = next(module.parameters(), None) is not None
            cached = self.layer_cache[module] = (layers, has_params)
        return cached


def _looks_like_probabilities(loss: str, tensor: Any) -> bool:
    """A softmax's output (non-negative, summing to 1 along the class dimension: 1, or 0 for
    one unbatched sample) for cross_entropy and nll_loss; a sigmoid's (all in [0, 1]) for
    binary_cross_entropy_with_logits. Logits almost never pass: they take both signs."""
    import torch

    with torch.no_grad():
        values = tensor.detach()
        if values.numel() < 2 or not bool(torch.isfinite(values).all()):
            return False
        low, high = float(values.min()), float(values.max())
        if loss == "binary_cross_entropy_with_logits":
            return low >= 0.0 and high <= 1.0
        dim = 1 if values.dim() > 1 else 0
        if values.shape[dim] < 2 or low < 0.0:
            return False
        return bool(torch.allclose(values.sum(dim=dim), torch.ones(()), atol=1e-3))


# A name the script's line binds: `opt_d = ...`, `self.opt_d: Adam = ...` (not `==`).
_ASSIGNED = re.compile(r"\s*([A-Za-z_][\w.]*)\s*(?::[^=]*)?=(?!=)")


def _assigned_name() -> str | None:
    """The variable the script's current line assigns to, as the report's name for what that
    line builds; None when the line assigns to no single name (a factory's `return Adam(...)`)."""
    site = _script_caller()
    if site is None:
        return None
    match = _ASSIGNED.match(linecache.getline(*site))
    return match.group(1) if match else None


def _script_caller() -> tuple[str, int] | None:
    """The file and line of the first frame outside torch and this package's runtime (the
    probe and the wrappers it installs): where the script called the loss (through
    `nn.CrossEntropyLoss.forward` or directly), or built the optimizer."""
    import torch

    skip = (
        os.path.dirname(os.path.abspath(torch.__file__)) + os.sep,
        os.path.dirname(os.path.abspath(__file__)) + os.sep,
    )
    frame = sys._getframe(2)
    while frame is not None:
        name = os.path.abspath(frame.f_code.co_filename)
        if not name.startswith(skip) and not name.startswith("<"):
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None


def _forget_if_cleared(param: Any, state: GradState) -> None:
    """Clear the state when `.grad` was set to None, replaced, or zeroed in place."""
    grad = param.grad
    replaced = grad is None or grad is not state.ref()
    if replaced or (not grad.is_sparse and not bool(grad.any())):
        state.stepped = state.polluted = False


def _no_gradient(params: list[Any]) -> bool:
    """Whether no parameter has a gradient to apply. Stops at the first non-zero one, which is
    usually the first parameter, so a step that has gradients costs one check."""
    trainable = [p for p in params if getattr(p, "requires_grad", False)]
    return bool(trainable) and all(p.grad is None or not bool(p.grad.any()) for p in trainable)


def _params_of(optimizer: Any) -> list[Any]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def _scalar(tensors: Any) -> float | None:
    import torch

    if isinstance(tensors, (list, tuple)) and len(tensors) == 1:
        tensors = tensors[0]
    if isinstance(tensors, torch.Tensor) and tensors.numel() == 1:
        return float(tensors.detach().float().item())
    return None


def _tensors_in(output: Any, depth: int = 0) -> list[Any]:
    import torch

    if isinstance(output, torch.Tensor):
        return [output]
    if depth > 2:
        return []
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (list, tuple)):
        return [t for item in output for t in _tensors_in(item, depth + 1)]
    return []


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """The JSON-friendly hyperparameters; the rest (tensors, callables) is left out."""
    plain: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, (bool, int, float, str)) or value is None:
            plain[key] = value
        elif isinstance(value, tuple) and all(isinstance(v, (int, float)) for v in value):
            plain[key] = list(value)
    return plain


def install(probe: Probe) -> None:
    """Hook torch before the script imports it; every hook only records."""
    import torch
    from torch.nn.modules import module as module_hooks
    from torch.optim import optimizer as optimizer_hooks

    module_hooks.register_module_forward_pre_hook(probe.before_forward)
    module_hooks.register_module_forward_hook(probe.after_forward)
    optimizer_hooks.register_optimizer_step_pre_hook(probe.before_step)
    optimizer_hooks.register_optimizer_step_post_hook(probe.after_step)

    # torch has no hooks for these three, so they are wrapped. Tensor.backward looks up
    # torch.autograd.backward at call time, so wrapping the function covers both spellings.
    original_backward = torch.autograd.backward
    torch.autograd.backward = functools.wraps(original_backward)(
        functools.partial(probe.run_backward, original_backward)
    )

    optimizer_init = torch.optim.Optimizer.__init__
    optimizer_zero_grad = torch.optim.Optimizer.zero_grad
    module_zero_grad = torch.nn.Module.zero_grad

    @functools.wraps(optimizer_init)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        optimizer_init(self, *args, **kwargs)
        probe.optimizer_built(self)

    @functools.wraps(optimizer_zero_grad)
    def zero_grad_optimizer(self: Any, *args: Any, **kwargs: Any) -> None:
        probe.zero_grad_called("optimizer", _params_of(self))
        optimizer_zero_grad(self, *args, **kwargs)

    @functools.wraps(module_zero_grad)
    def zero_grad_module(self: Any, *args: Any, **kwargs: Any) -> None:
        probe.zero_grad_called("module", list(self.parameters()))
        module_zero_grad(self, *args, **kwargs)

    torch.optim.Optimizer.__init__ = init
    torch.optim.Optimizer.zero_grad = zero_grad_optimizer
    torch.nn.Module.zero_grad = zero_grad_module
    _watch_schedulers(probe)
    _watch_logit_losses(probe)


# Losses that take logits (or log-probabilities), and the name of their input argument.
LOGIT_LOSSES = ("cross_entropy", "nll_loss", "binary_cross_entropy_with_logits")


def _watch_logit_losses(probe: Probe) -> None:
    """Wrap the functional losses; their module forms (`nn.CrossEntropyLoss`) call these."""
    from torch.nn import functional

    for name in LOGIT_LOSSES:
        original = getattr(functional, name)

        def watched(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            tensor = args[0] if args else kwargs.get("input")
            probe.loss_called(_name, tensor)
            return _original(*args, **kwargs)

        setattr(functional, name, functools.wraps(original)(watched))


def _watch_schedulers(probe: Probe) -> None:
    """Record each scheduler step with the line that called it, and torch's warning when one
    comes before any optimizer step (the warning itself would name this wrapper's line)."""
    from torch.optim import lr_scheduler

    scheduler_step = lr_scheduler.LRScheduler.step

    @functools.wraps(scheduler_step)
    def step(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not getattr(self, "_is_initial", False):  # the constructor's own first step
            caller = sys._getframe(1)
            probe.log.write("lr_step", file=caller.f_code.co_filename, line=caller.f_lineno)
        return scheduler_step(self, *args, **kwargs)

    lr_scheduler.LRScheduler.step = step  # type: ignore[method-assign]
    shown = warnings.showwarning

    @functools.wraps(shown)
    def showwarning(message: Any, category: Any, filename: str, lineno: int, *rest: Any) -> None:
        if str(message).startswith(SCHEDULER_ORDER_WARNING):
            probe.log.write("warning")
        shown(message, category, filename, lineno, *rest)

    warnings.showwarning = showwarning


def run_script(script: str, args: list[str], probe: Probe, source: str | None = None) -> None:
    """Run the script as `python SCRIPT ARGS` would, and record how it ended. `source`, when
    given, is the code to run in the script's place (a notebook's code cells as one program)."""
    log = probe.log

    def on_sigterm(signum: int, frame: Any) -> None:
        # The parent sends SIGTERM at the timeout; stopping here lets the report be written.
        probe.stop("timeout")

    signal.signal(signal.SIGTERM, on_sigterm)
    sys.argv = [script, *args]
    try:
        if source is None:
            runpy.run_path(script, run_name="__main__")
        else:
            _run_source(script, source)
    except StopRun:
        log.write("end", outcome="stopped", reason=probe.stop_reason)
    except SystemExit as exit_:
        log.write("end", outcome="exit", code=_exit_code(exit_.code))
    except BaseException as error:
        log.write(
            "end",
            outcome="error",
            type=type(error).__name__,
            message=str(error),
            traceback=_user_traceback(error),
        )
    else:
        log.write("end", outcome="finished")


def _run_source(script: str, source: str) -> None:
    """Run `source` as the `__main__` module, named `script` in tracebacks; its lines are
    given to linecache, so that a traceback quotes the code that ran, not the file's JSON."""
    linecache.cache[script] = (len(source), None, source.splitlines(keepends=True), script)
    code = compile(source, script, "exec", dont_inherit=True)
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = builtins
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = main
    try:
        exec(code, main.__dict__)
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


def _exit_code(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    # sys.exit("message") prints the message and exits with status 1.
    print(code, file=sys.stderr)
    return 1


def _user_traceback(error: BaseException) -> str:
    """The traceback from the script's first frame on, without the probe and runpy frames."""
    tb = error.__traceback__
    # Python 3.11+ runs runpy from a frozen copy, whose frames name no file.
    own_files = {os.path.abspath(__file__), os.path.abspath(runpy.__file__), "<frozen runpy>"}

    def own(filename: str) -> bool:
        return filename in own_files or os.path.abspath(filename) in own_files

    while tb is not None and own(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb))


# The child's plumbing (its session, its output, its exit) runs only in the forked child, out of
# the mutation tester's sight; every test that runs `verify` proves it end to end.
# pragma: no mutate block
def child_main(
    events: str,
    output: str,
    max_steps: int,
    threads: int | None,
    script: str,
    args: list[str],
    cwd: str,
    source: str | None = None,
    lr_scale: float | None = None,
    device: str | None = None,
) -> None:
    """The child process: isolate it, hook torch (scale every learning rate by `lr_scale`, if
    given, and map CUDA to the CPU when `device` is "cpu"), run the script (or `source` in its
    place), leave."""
    # Its own session, so the parent can end it and everything it started together.
    os.setsid()
    _redirect_output(output)
    os.chdir(cwd)
    # As `python SCRIPT` would: the script's folder first on sys.path.
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    with open(events, "w", buffering=1, encoding="utf-8") as stream:
        log = EventLog(stream)
        import torch

        if threads is not None:
            torch.set_num_threads(threads)
        log.write("start", python=sys.version.split()[0], torch=torch.__version__)
        probe = Probe(log=log, max_steps=max_steps)
        install(probe)
        if lr_scale is not None:
            from lint_train.runtime import lrscale

            lrscale.install(lr_scale, probe)
        if device == "cpu":
            from lint_train.runtime.device import map_cuda_to_cpu

            map_cuda_to_cpu()
        run_script(script, args, probe, source)
        sys.stdout.flush()
        sys.stderr.flush()
    # Leave now: threads the script started, or its atexit handlers, must not keep the child
    # alive after its report is written.
    os._exit(0)


def _redirect_output(path: str) -> None:
    """The script's stdout and stderr go to one file, line by line, so a kill loses little."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.close(null)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - lives as long as the process
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
