"""Inside the child: every optimizer's learning rate multiplied by one factor.

The learning-rate probes of `verify` and the range test of `verify --lr-find` run the user's
script unmodified; this instrumentation scales the rate instead. Every parameter group of every
`torch.optim.Optimizer` is scaled by the same factor, so the ratios the script set between
groups and between optimizers stay as they were.

Where the scaling happens, and why there:
- at the end of the optimizer's constructor, before any scheduler can read the groups' rates
  (a scheduler built later takes the scaled rates as its base rates, so its schedule is scaled
  too, and its own updates need nothing more);
- for a group added later with `add_param_group`;
- before each optimizer step, for a rate the script assigned itself since (a hand-written
  warm-up or decay, `group["lr"] = lr`): a value in a group that neither this hook nor a
  scheduler left there is taken as an unscaled rate and scaled.

It logs one `lr_scale` event per optimizer: its index (as the probe's `optimizer` event numbers
it), type, the factor, and each group's rate as the script set it.
"""

from __future__ import annotations

import functools
import weakref
from typing import Any

from lint_train.runtime.probe import Probe


def install(scale: float, probe: Probe) -> None:
    """Scale every optimizer built from now on; call after `probe.install`."""
    import torch
    from torch.optim import lr_scheduler
    from torch.optim import optimizer as optimizer_hooks

    # id(group) -> the rate this hook or a scheduler last left in it. The optimizer keeps its
    # group dicts alive, so an id is not reused while the group can still be read.
    expected: dict[int, float] = {}
    built: weakref.WeakSet[Any] = weakref.WeakSet()

    def scale_group(group: dict[str, Any]) -> None:
        lr = group.get("lr")
        if rate(lr) is not None:  # a number, or a one-element tensor (which stays a tensor)
            group["lr"] = lr * scale
        value = rate(group.get("lr"))
        if value is not None:
            expected[id(group)] = value

    optimizer_init = torch.optim.Optimizer.__init__
    add_param_group = torch.optim.Optimizer.add_param_group

    @functools.wraps(optimizer_init)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        optimizer_init(self, *args, **kwargs)
        if self in built:  # a subclass that runs the base constructor twice
            return
        original = [rate(group.get("lr")) for group in self.param_groups]
        for group in self.param_groups:
            scale_group(group)
        built.add(self)
        probe.log.write(
            "lr_scale",
            opt=probe.optimizers.get(id(self)),
            type=type(self).__name__,
            scale=scale,
            lrs=original,
        )

    @functools.wraps(add_param_group)
    def add_group(self: Any, param_group: Any) -> None:
        add_param_group(self, param_group)
        if self in built:  # the constructor's own groups are scaled when it returns
            scale_group(self.param_groups[-1])

    def before_step(optimizer: Any, args: Any, kwargs: Any) -> None:
        for group in optimizer.param_groups:
            value = rate(group.get("lr"))
            if value is not None and expected.get(id(group)) != value:
                scale_group(group)

    def after_scheduler_step(scheduler: Any) -> None:
        # A scheduler computes from the scaled base rates: what it writes is already scaled.
        for group in getattr(getattr(scheduler, "optimizer", None), "param_groups", ()):
            value = rate(group.get("lr"))
            if value is not None:
                expected[id(group)] = value

    for scheduler_class in _scheduler_classes(lr_scheduler):
        _watch_step(scheduler_class, after_scheduler_step)

    torch.optim.Optimizer.__init__ = init
    torch.optim.Optimizer.add_param_group = add_group
    optimizer_hooks.register_optimizer_step_pre_hook(before_step)


def rate(lr: Any) -> float | None:
    """A group's learning rate as a float (a one-element tensor too); None if it has none."""
    if isinstance(lr, bool):
        return None
    if isinstance(lr, (int, float)):
        return float(lr)
    numel = getattr(lr, "numel", None)
    if numel is not None and numel() == 1:
        return float(lr.item())
    return None


def _scheduler_classes(module: Any) -> list[type]:
    """torch's scheduler classes that define their own `step` (ReduceLROnPlateau, the chained
    ones, warm restarts), and the base class the others inherit it from."""
    base = module.LRScheduler
    return [
        cls
        for cls in vars(module).values()
        if isinstance(cls, type) and issubclass(cls, base) and "step" in vars(cls)
    ]


def _watch_step(cls: type, after: Any) -> None:
    original = cls.step  # type: ignore[attr-defined]

    @functools.wraps(original)
    def step(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        after(self)
        return result

    cls.step = step  # type: ignore[attr-defined]
