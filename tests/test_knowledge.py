"""The library knowledge table: its page is generated from it, and every entry is proven by a
snippet whose verdict is the stated one with the entry and a different one without it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_function_identity_shapes import FUNCTION_CASES
from test_identity_shapes import IDENTITY_CASES
from test_mode_free_models import MODE_FREE_CASES
from test_mode_sensitive_parts import ARRAY_CASES

from lint_train.analysis import knowledge as kn
from lint_train.engine import lint_source

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "library-knowledge.md"


def _codes(source: str) -> list[tuple[int, str]]:
    return sorted((f.line, f.code) for f in lint_source(textwrap.dedent(source)))


# A loop that clears once before it: TRN001 at its step (line 10), unless `{line}` hides
# what happens.
STALE = """
    import torch
    import torchvision
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    opt.zero_grad()
    for x in data:
        {line}
        model(x).sum().backward()
        opt.step()
"""
STALE_FOUND = [(10, "TRN001")]


def _stale(line: str) -> tuple[str, list[tuple[int, str]]]:
    return STALE.format(line=line), STALE_FOUND


# A loop that never steps: TRN002 at its backward (line 8), unless `{line}` may step by
# means not in view.
NO_STEP = """
    import torch
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x in data:
        opt.zero_grad()
        {line}
        model(x).sum().backward()
"""


def _no_step(line: str) -> tuple[str, list[tuple[int, str]]]:
    return NO_STEP.format(line=line), [(8, "TRN002")]


# An evaluation helper called after training: TRN003 and TRN004 at its forward (line 16),
# unless `{line}` differentiates (then it is no evaluation) or sets grad mode or model mode.
EVALUATE = """
    import torch
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def train(loader):
        model.train()
        for x in loader:
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()

    def evaluate(loader):
        for x in loader:
            {line}
            out = model(x)
    train(data)
    evaluate(data)
"""
BOTH = [(16, "TRN003"), (16, "TRN004")]


def _evaluate(line: str, found: list[tuple[int, str]]) -> tuple[str, list[tuple[int, str]]]:
    return EVALUATE.format(line=line), found


GAN_G_ONLY = """
    import torch
    gen = torch.nn.Linear(2, 2)
    disc = torch.nn.Linear(2, 1)
    opt_g = torch.optim.Adam(gen.parameters())
    opt_d = torch.optim.Adam(disc.parameters())
    opt_d.zero_grad()
    for x in data:
        gen.zero_grad()
        disc(gen(x)).sum().backward()
        opt_g.step()
        opt_d.step()
"""

GRAD_CLEARED_NEVER_STEPPED = """
    import torch
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x in data:
        model.weight.grad.zero_()
        model(x).sum().backward()
"""

ONLY_SCHEDULER = """
    import torch
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, 10)
    for x in data:
        opt.zero_grad()
        model(x).sum().backward()
        sched.step()
"""

# The engine's step clears every gradient, the plain optimizer's too.
ENGINE = """
    import torch
    opt.zero_grad()
    for x in data:
        loss = engine(x).sum()
        engine.backward(loss)
        engine.step()
        opt.step()
"""

EVAL_LEFT_ON = """
    import torch
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(3):
        for x in data:
            {line}
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            for x in val_data:
                model(x)
"""

BUILT = """
    import torch
    import torchvision
    import transformers
    import deepspeed
    {line}
    opt = torch.optim.SGD(params, lr=0.1)

    def train(loader):
        for x in loader:
            opt.zero_grad()
            part(x).sum().backward()
            opt.step()

    def evaluate(loader):
        for x in loader:
            out = part(x)
    train(data)
    evaluate(data)
"""

SOLVER = """
    import torch
    model = torch.nn.Linear(2, 1)
    solver = torch.optim.{cls}(model.parameters(), lr=0.1)
    solver.zero_grad()
    for x in data:
        model(x).sum().backward()
        solver.step()
"""

DECAY = """
    import torch
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    decay = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, 10)
    for x in data:
        opt.zero_grad()
        model(x).sum().backward()
        decay.step()
"""

# Named like an optimizer, but what deepspeed.initialize returns first is an engine.
# Accelerate's window: the prepared `opt.step()` waits for the window's last micro-batch, but
# `model.zero_grad()` clears at every one, throwing the window away (TRN006 at line 12). Read
# as a plain block, the clear right after the step is where it belongs.
ACCUMULATE = """
    import torch
    from accelerate import Accelerator
    accelerator = Accelerator(gradient_accumulation_steps=4)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model, opt = accelerator.prepare(model, opt)
    for x in data:
        with accelerator.accumulate(model):
            model(x).sum().backward()
            opt.step()
            model.zero_grad()
"""

DEEPSPEED = """
    import deepspeed
    model_opt, _, _, _ = deepspeed.initialize(model=net, model_parameters=params)
    for x in data:
        model_opt(x).sum().backward()
        model_opt.step()
"""

# Cleared in the loop by fresh zeros: quiet with the entry, TRN001 without it.
CLEARED_BY_ZEROS: list[tuple[int, str]] = []

# Parameters updated by hand, gradients never cleared: TRN001 on line 4.
BY_HAND = """
    import torch
    model = torch.nn.Linear(2, 1)
    for x in data:
        model(x).sum().backward()
        with torch.no_grad():
            for p in model.parameters():
                {update}
"""

# A helper that no name calls evaluation, run after training: evaluation by what it does with
# the model's result (TRN003 and TRN004 at its forward, line 9) only if `{expr}` turns that
# result into a metric or an output; else the list it returns may be trained on.
SCORES = """
    import torch
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def collect_scores(loader):
        preds = []
        for x in loader:
            preds.append({expr})
        return preds

    for x in data:
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
    collect_scores(data)
"""


def _scores(expr: str) -> tuple[str, list[tuple[int, str]]]:
    return SCORES.format(expr=expr), [(9, "TRN003"), (9, "TRN004")]


# A function handed to a launcher as a value: an entry point that runs with autograd on, so its
# evaluation loop (line 9) runs with grad on; handed to code not in view, grad is unknown.
LAUNCHED = """
    import torch, argparse, threading, multiprocessing, fire, accelerate
    import torch.multiprocessing

    def main(*args):
        model = torch.load("model.pt")
        model.eval()
        for x in val_data:
            out = model(x)

    {launch}
"""


def _launched(launch: str) -> tuple[str, list[tuple[int, str]]]:
    return LAUNCHED.format(launch=launch), [(9, "TRN003")]


# The mode chosen at each epoch's start, the third way stopped by `{line}`: every way that goes
# on sets the mode, so no training runs in the eval mode the evaluation left (TRN005 at the
# training forward when the third way goes on).
MODE_CHOSEN = """
    import os
    import sys
    import torch
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(3):
        if mode == "finetune":
            model.train()
        elif mode == "probe":
            model.eval()
        else:
            {line}
        for x in data:
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            for x in val_data:
                model(x)
"""


def _ended(line: str) -> tuple[str, list[tuple[int, str]]]:
    return MODE_CHOSEN.format(line=line), []


CASES: dict[str, tuple[str, list[tuple[int, str]]]] = {
    "<any>.backward": _stale("pass"),
    "torch.autograd.backward": (STALE.replace("model(x).sum().backward()", "backward(model(x))")
                                .format(line="from torch.autograd import backward"),
                                STALE_FOUND),
    "torch.autograd.grad": _evaluate("torch.autograd.grad(model(x).sum(), [x])", []),
    "torch.distributed.autograd.*": (STALE.replace(
        "model(x).sum().backward()", "torch.distributed.autograd.backward(ctx, [model(x)])"
    ).format(line="pass"), []),
    "<any>.requires_grad_": _evaluate("x.requires_grad_()", []),
    "advertorch.attacks.*": _evaluate("from advertorch.attacks import LinfPGDAttack; "
                                      "atk = LinfPGDAttack(model); atk(x, x)", []),
    "torchattacks.*": _evaluate("import torchattacks; atk = torchattacks.PGD(model); atk(x, x)",
                                []),
    "foolbox.attacks.*": _evaluate("import foolbox; atk = foolbox.attacks.LinfPGD(); "
                                   "atk(fmodel, x, x, epsilons=0.03)", []),
    "<attack>.__call__": _evaluate("import torchattacks; atk = torchattacks.FGSM(model); "
                                   "atk(x, x)", []),
    "<any>.perturb": _evaluate("adv = adversary.perturb(x, x)", []),
    "torch.no_grad": (EVALUATE.replace("def evaluate", "@torch.no_grad()\n    def evaluate")
                      .format(line="model.eval()"), []),
    "torch.inference_mode": (EVALUATE.replace("def evaluate",
                                              "@torch.inference_mode()\n    def evaluate")
                             .format(line="model.eval()"), []),
    "torch.enable_grad": (EVALUATE.replace("def evaluate", "@torch.no_grad()\n    def evaluate")
                          .replace("            {line}", "            with torch.enable_grad():")
                          .replace("            out = model(x)", "                out = model(x)"),
                          [(17, "TRN003"), (17, "TRN004")]),
    "torch.set_grad_enabled": _evaluate("torch.set_grad_enabled(False); model.eval()", []),
    "<optimizer>.step": _stale("pass"),
    "<any>.zero_grad": (GAN_G_ONLY, [(12, "TRN001")]),
    "<scaler>.unscale_": _stale("scaler.unscale_(opt)"),
    "<any>.clip_gradients": _stale("fabric.clip_gradients(model, opt, max_norm=1.0)"),
    "*.save_checkpoint": _stale("save_checkpoint(model, opt, path)"),
    "*.load_checkpoint": _stale("utils.load_checkpoint(path, model, opt)"),
    "<model>.generate": (EVALUATE.replace("out = model(x)", "out = model.generate(x)")
                         .format(line="pass"), [(16, "TRN004")]),
    "<any>.accumulate": (EVAL_LEFT_ON.format(line="with accelerator.accumulate(model): pass"),
                         [(9, "TRN005")]),
    "<any>.no_backward_sync": (EVAL_LEFT_ON.format(
        line="with fabric.no_backward_sync(model): pass"), [(9, "TRN005")]),
    "<scaler>.step": (STALE.replace("opt.step()", "scaler.step(opt)").format(line="pass"),
                      STALE_FOUND),
    "<any>.optimizer_step": (STALE.replace("opt.step()", "xm.optimizer_step(opt)")
                             .format(line="pass"), STALE_FOUND),
    "<engine>.step": (ENGINE, []),
    "<parameter>.add_": (BY_HAND.format(update="p.data.add_(p.grad, alpha=-0.1)"),
                         [(4, "TRN001")]),
    "<parameter>.sub_": (BY_HAND.format(update="p.sub_(0.1 * p.grad)"), [(4, "TRN001")]),
    "<parameter>.__isub__": (BY_HAND.format(update="p -= 0.1 * p.grad"), [(4, "TRN001")]),
    "<parameter>.__iadd__": (BY_HAND.format(update="p += -0.1 * p.grad"), [(4, "TRN001")]),
    "<scheduler>.step": (ONLY_SCHEDULER, [(8, "TRN002")]),
    "<grad>.zero_": (GRAD_CLEARED_NEVER_STEPPED, [(7, "TRN002")]),
    "<grad>.fill_": (GRAD_CLEARED_NEVER_STEPPED.replace("zero_()", "data.fill_(0)"),
                     [(7, "TRN002")]),
    "torch.zeros_like": (STALE.format(
        line="for p in model.parameters(): p.grad = torch.zeros_like(p)"), CLEARED_BY_ZEROS),
    "torch.zeros": (STALE.format(line="model.weight.grad = torch.zeros(1, 2)"),
                    CLEARED_BY_ZEROS),
    "<any>.new_zeros": (STALE.format(
        line="model.weight.grad = model.weight.grad.new_zeros(1, 2)"), CLEARED_BY_ZEROS),
    "<any>.zero_": (STALE.format(line="for p in model.parameters(): "
                                 "p.grad.data = p.grad.data.new().resize_as_(p.grad).zero_()"),
                    CLEARED_BY_ZEROS),
    "<grad>.detach_": _no_step("model.weight.grad.detach_()"),
    # A statistic of a gradient (logged) or a change where it stays (clipped by hand): applies
    # nothing, so the loop that clears `opt` must still step it.
    **{f"<grad>.{m}": _no_step(f"print(model.weight.grad.{m}())") for m in (
        "norm", "mean", "std", "var", "max", "min", "item", "numel", "size", "dim", "isnan",
        "isinf", "isfinite")},
    **{f"<grad>.{m}": _no_step(f"model.weight.grad.data.{m}({args})") for m, args in (
        ("clamp_", "-1, 1"), ("clip_", "-1, 1"), ("mul_", "0.5"), ("div_", "2"),
        ("nan_to_num_", ""))},
    "<any>.add_histogram": _no_step("writer.add_histogram('w', model.weight.grad, 0)"),
    # A hook reads the gradients: the backward may feed it, not a step (TRN002 only without).
    **{f"<any>.{m}": (NO_STEP.format(line=f"model(x).{m}(lambda g: g)"), []) for m in (
        "register_hook", "register_full_backward_hook", "register_backward_hook")},
    **{f"<optimizer>.{m}": _no_step(f"opt.{m}()") for m in (
        "state_dict", "load_state_dict", "add_param_group", "register_step_pre_hook",
        "register_step_post_hook", "param_groups", "__repr__")},
    "<any>.eval": _evaluate("torch.set_grad_enabled(False); model.eval()", []),
    "<any>.train": (EVAL_LEFT_ON.format(line="model.train()"), []),
    "<model>.forward": (EVALUATE.replace("out = model(x)", "out = model.forward(x)")
                        .format(line="pass"), BOTH),
    **{f"<any>.{m}": _stale(f"log.{m}(opt)") for m in (
        "to", "cuda", "cpu", "half", "float", "double", "bfloat16", "parameters",
        "named_parameters", "state_dict", "load_state_dict", "modules", "children", "apply",
        "register_forward_hook", "size", "numel", "add_param_group")},
    **{f"<any>.{m}": _scores(f"model(x).{m}()") for m in (
        "item", "detach", "argmax", "argmin", "tolist", "numpy")},
    "<any>.eq": _scores("torch.eq(model(x), x)"),
    "<any>.ne": _scores("model(x).ne(x)"),
    "<any>.decode": _scores("tokenizer.decode(model(x))"),
    "<any>.batch_decode": _scores("tokenizer.batch_decode(model(x))"),

    **{name: _stale(f"{name}(opt)") for name in kn._BUILTINS},
    "torch*": _stale("torchvision.utils.report(opt)"),
    "torch.optim.lr_scheduler.*": (DECAY, [(8, "TRN002")]),
    # A class of torch.optim that the names in vocab.OPTIMIZER_CLASSES do not list.
    "torch.optim.*": (SOLVER.format(cls="Adan"), [(8, "TRN001")]),
    "torch.nn.*": (BUILT.format(line="part = torch.nn.Linear(2, 2)"), [(17, "TRN003")]),
    "torchvision.models.*": (BUILT.format(line="part = torchvision.models.AlexNet()"),
                             [(17, "TRN003"), (17, "TRN004")]),
    "transformers.*": (BUILT.format(line="part = transformers.BertModel(cfg)"),
                       [(17, "TRN003"), (17, "TRN004")]),
    "deepspeed.initialize": (DEEPSPEED, []),
    "<any>.set_defaults": _launched("parser.set_defaults(func=main)"),
    "<any>.launch": _launched("fabric.launch(main)"),
    "threading.Thread": _launched("threading.Thread(target=main).start()"),
    "multiprocessing.Process": _launched("multiprocessing.Process(target=main).start()"),
    "torch.multiprocessing.Process": _launched("torch.multiprocessing.Process(target=main)"),
    "torch.multiprocessing.spawn": _launched("torch.multiprocessing.spawn(main, nprocs=2)"),
    "accelerate.notebook_launcher": _launched("accelerate.notebook_launcher(main)"),
    "fire.Fire": _launched("fire.Fire(main)"),
    "sys.exit": _ended("sys.exit(f'unknown mode {mode}')"),
    "exit": _ended("exit(1)"),
    "quit": _ended("quit()"),
    "os._exit": _ended("os._exit(2)"),
    "os.abort": _ended("os.abort()"),
    "<accelerator>.accumulate": (ACCUMULATE, [(12, "TRN006")]),
}  # fmt: skip
CASES.update(IDENTITY_CASES)  # the entries for identity through wrappers (issue 11, B)
CASES.update(FUNCTION_CASES)  # plain functions are no models (issue 11, A)
CASES.update(ARRAY_CASES)  # arrays build no layer (issue 11, A)
CASES.update(MODE_FREE_CASES)  # what builds no mode-sensitive layer (issue 11, A)


def test_every_entry_has_a_case() -> None:
    assert set(CASES) == set(kn.TABLE)


@pytest.mark.parametrize("key", sorted(CASES))
def test_entry_decides_the_verdict(key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    source, expected = CASES[key]
    assert _codes(source) == expected
    monkeypatch.delitem(kn.TABLE, key)
    assert _codes(source) != expected, f"{key}: the verdict does not depend on the entry"


def test_the_knowledge_page_is_generated_from_the_table() -> None:
    generated = subprocess.run(
        [sys.executable, "-m", "lint_train.analysis.knowledge", "--markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert PAGE.read_text(encoding="utf-8") == generated


# Each parameter's gradient replaced by what `Variable(...)` wraps, in the loop: a clear only if
# what it wraps is zeros.
WRAPPED_ZEROS = """
    import torch
    from torch.autograd import Variable
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x in data:
        model(x).sum().backward()
        opt.step()
        for p in model.parameters():
            held = p.grad.data
            p.grad = Variable({value})
"""


def test_variable_keeps_the_zeros_it_wraps() -> None:
    assert _codes(WRAPPED_ZEROS.format(value="held.new().resize_as_(held).zero_()")) == []
    assert _codes(WRAPPED_ZEROS.format(value="torch.zeros_like(held)")) == []


def test_variable_of_anything_else_is_no_clear() -> None:
    assert _codes(WRAPPED_ZEROS.format(value="held.new().resize_as_(held)")) == [(8, "TRN001")]
    assert _codes(WRAPPED_ZEROS.format(value="held * 0.5")) == [(8, "TRN001")]


@pytest.mark.parametrize(
    ("cls", "module"),
    [
        ("transformers.BertTokenizerFast", False),
        ("transformers.AutoTokenizer", False),
        ("transformers.RagRetriever", False),
        ("transformers.CLIPImageProcessor", False),
        ("transformers.Wav2Vec2FeatureExtractor", False),
        ("transformers.AutoConfig", False),
        ("diffusers.DDPMScheduler", False),
        ("diffusers.AutoPipelineForText2Image", False),
        ("transformers.AutoModelForCausalLM", True),
        ("transformers.RagTokenForGeneration", True),
        ("transformers.CLIPTextModelWithProjection", True),
        ("peft.PeftModel", True),
        ("diffusers.UNet2DConditionModel", True),
        ("project.ConfigurableEncoder", True),
    ],
)
def test_what_from_pretrained_loads_follows_the_class_family(cls: str, module: bool) -> None:
    assert kn.pretrained_is_module(cls) is module


def test_every_family_is_documented_on_the_page() -> None:
    page = PAGE.read_text(encoding="utf-8")
    assert all(f"- `{family}`:" in page for family in kn.PRETRAINED_NOT_MODULES)


def test_only_a_fill_with_zero_clears_a_gradient() -> None:
    """`p.grad.fill_(0)` clears; `p.grad.fill_(1)` sets the gradient to ones, which the next
    backward pass adds to: the update by hand is still made from uncleared gradients."""
    source = textwrap.dedent("""
        import torch
        conv = torch.nn.Conv1d(1, 1, 3)
        for x, y in data:
            ((conv(x) - y) ** 2).mean().backward()
            with torch.no_grad():
                conv.weight -= 0.1 * conv.weight.grad
            conv.weight.grad.fill_(0)
    """)
    assert [f.code for f in lint_source(source)] == []
    ones = [(f.line, f.code) for f in lint_source(source.replace("fill_(0)", "fill_(1)"))]
    assert ones == [(4, "TRN001")]
