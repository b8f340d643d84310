"""What library calls do to a training script's state: one table, read by the analysis.

Each entry says, for one call, what it does to grad mode, to the mode of the model it is given
or called on, and to the gradients of the optimizer it is given or called on; whether it is a
forward or a backward pass; whether it returns the object it was given. A call that is not in
the table is unknown, and the analysis treats it so; a call in the table is not.

Keys come in three forms:
- a qualified name, `torch.autograd.grad`, matched after imports are resolved;
- a qualified prefix, `torch.nn.*`, matched when no exact entry does;
- a method on a receiver of a kind, `<optimizer>.state_dict`, `<scaler>.step`, `<any>.to`:
  the receiver's kind is what the analysis knows the object to be (see `KINDS`);
- a last name, `*.save_checkpoint`: any function or method so named, imported or not, that
  is not the file's own (the file's own functions are followed instead).

`python -m lint_train.analysis.knowledge --markdown` prints docs/library-knowledge.md.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

# What a call does to the gradients of an optimizer (the one it is called on, or is given).
NEUTRAL = "neutral"  # touches no gradient and hands the optimizer to no one
READS = "reads"  # looks at the optimizer (its state, its groups) without stepping or clearing
STEPS = "steps"
CLEARS = "clears"
STEPS_AND_CLEARS = "steps and clears"

# Whose gradients an entry's effect applies to.
RECEIVER = "receiver"  # `opt.step()`: the object the method is called on
FIRST_ARG = "first argument"  # `scaler.step(opt)`, `xm.optimizer_step(opt)`
EVERY = "every optimizer"  # `engine.step()`, `p.grad.zero_()`: whatever owns the gradients

# What train/eval mode does to what a constructor builds, and when it does nothing after all.
SENSITIVE = "sensitive"
UNKNOWN = "unknown"
FREE = "free"  # builds no torch module at all (arrays, signal filters): nothing has a mode
AS_GIVEN = "as given"  # wraps the modules it is given: sensitive exactly when one of them is
ZERO_RATE = "a rate of 0 (`p=0`, or its first argument 0)"
NO_DROPOUT = "`dropout=0`"
NO_RUNNING_STATS = "no `track_running_stats=True`"

# grad_mode of pre-0.4 calls that turned autograd off for what they built: with
# `volatile=True`, or with the argument `free_when` names (`train=False`).
VOLATILE = "off (volatile)"
NOT_TRAINING = "`train=False`"

# What the analysis may know a receiver to be.
KINDS = {
    "optimizer": "an object built by an optimizer class, or named like one (`opt`, `optimizer`)",
    "scaler": "a `GradScaler`, or an object named like one (`scaler`)",
    "scheduler": "a learning-rate scheduler, or an object named like one (`lr_sched`)",
    "engine": "an object that both runs `.backward(loss)` and `.step()` (DeepSpeed-style)",
    "grad": "a parameter's gradient, `p.grad` or `p.grad.data`",
    "parameter": "a tensor updated from its own gradient: `p` or `p.data` with `p.grad` in the "
    "arguments",
    "model": "a torch module",
    "accelerator": "an `accelerate.Accelerator`, or an object named like one (`accelerator`)",
    "fabric": "a Lightning `Fabric`, or an object named like one (`fabric`)",
    "lightning": "a class derived from a class of Lightning (`LightningModule`, `Callback`): "
    "its hooks are called by Lightning's loops",
    "attack": "an adversarial attack built by a class of an attack library",
    "foreign": "an object of another framework (TensorFlow/Keras, JAX/Flax, scikit-learn, ...): "
    "never a torch model, whatever its name",
    "any": "any object",
}


@dataclass(frozen=True)
class Effect:
    """What one library call does. Every field defaults to "nothing"."""

    does: str  # one line for the documentation
    grads: str = NEUTRAL  # to the optimizer's gradients: NEUTRAL, READS, STEPS, CLEARS, ...
    whose: str = RECEIVER  # whose gradients `grads` is about
    backward: bool = False  # accumulates gradients into `.grad` (a backward pass)
    grad_use: bool = False  # differentiates without accumulating into `.grad`
    forward: bool = False  # runs the model's forward pass
    grad_mode: str | None = None  # "off"/"on", or "flag" (its first argument) as context/call
    model_mode: str | None = None  # "eval"/"train", or "flag": what it leaves the model in
    same_object: bool = False  # returns the object it was given or called on
    # With `same_object`, a method returns its arguments, in order, not its receiver
    # (`accelerator.prepare(model, opt)` returns `model, opt`).
    returns_args: bool = False
    builds: str | None = None  # a constructor: what it builds (a kind of `KINDS`)
    # Passes what it is given to code not in view, which may step, clear or change modes.
    hands_on: bool = False
    # Whether train/eval mode changes what the module it builds computes: SENSITIVE (dropout,
    # batch-norm, a model zoo's models), UNKNOWN (what it returns is not in view; counted as
    # sensitive), FREE (it builds no module: a model that calls it while it is built,
    # `np.prod(ratios)`, gains no layer) or AS_GIVEN (a wrapper that computes what the modules
    # it is given compute: `weight_norm(conv)`). `free_when` names the arguments that make it
    # mode-free after all.
    mode: str | None = None
    free_when: str | None = None  # ZERO_RATE or NO_RUNNING_STATS
    # Turns a model's result into a metric or an output that no gradient flows through
    # (`out.argmax(1)`, `loss.item()`): what evaluation does with what it computes.
    output: bool = False
    # Runs a function it is given as a value (its first argument, or `func=`/`target=`) as an
    # entry point: with autograd on, and models in whatever mode the code leaves them.
    launches: bool = False
    # Returns a tensor holding its first argument's value (pre-0.4 `Variable(t)`): what the
    # argument is (fresh zeros, say), the result is too.
    keeps_value: bool = False
    # Stops the program where it is called as a statement: no code after it runs, so a branch
    # that ends in it is a way the script does not go on (`else: sys.exit(1)`).
    ends: bool = False
    # A context whose body is one micro-batch of an accumulation window: the optimizers that
    # went through a call marked `defers` step and clear only in the window's last micro-batch,
    # when `<receiver>.sync_gradients` is true (Accelerate's `accumulate`).
    window: bool = False
    # Returns optimizers whose `step()` and `zero_grad()` do nothing inside a `window` context
    # until its last micro-batch (Accelerate's `AcceleratedOptimizer`).
    defers: bool = False
    # A constructor's keywords that make the `window` contexts of what it builds windows of
    # more than one micro-batch (a value other than 1); without them, each window is one.
    windows_with: tuple[str, ...] = ()
    # The name itself, taken as a value (`net = F.softmax`, `evaluate(loader, abs)`), is a
    # plain function: it has no train/eval mode, and calling it runs no torch model.
    function: bool = False
    # Its arguments are tensors or a state dict, never a module (`model.load_state_dict(
    # torch.load(path))`): what builds them adds no layer to the model that calls it.
    takes_state: bool = False
    # Returns its first argument with some arguments bound (`functools.partial(f, w=w)`): a
    # function stays a plain function; a class becomes a factory (calling it builds).
    binds: bool = False
    # Reads or changes a gradient where it stays (`p.grad.norm()`, `p.grad.clamp_(-1, 1)`):
    # it cannot apply the gradient to the weights, as code that ships `.grad` elsewhere might,
    # so an optimizer that the loop clears must still step.
    inspects: bool = False
    # Called with the literal `False` (`model.requires_grad_(False)`), it stops its receiver's
    # parameters from needing gradients instead: autograd records nothing for that model.
    freezes: bool = False


def _output(method: str) -> Effect:
    return Effect(
        f"`x.{method}(...)` (and `torch.{method}(x)`, `tokenizer.{method}(x)`): a metric or an "
        "output, not differentiated further",
        output=True,
    )


def _pure(name: str) -> Effect:
    return Effect(
        f"Python's `{name}()`: hands nothing to code that could step or clear; `{name}` itself "
        "is no model",
        function=True,
    )


_BUILTINS = ("print", "len", "sum", "isinstance", "range", "enumerate", "zip", "list", "tuple",
             "dict", "str", "int", "float", "repr", "type", "id", "hasattr", "getattr", "sorted",
             "min", "max")  # fmt: skip


def _optimizer_read(method: str) -> Effect:
    return Effect(f"`opt.{method}`: reads or extends the optimizer, never steps it", grads=READS)


def _neutral_method(method: str, same_object: bool = False) -> Effect:
    return Effect(
        f"`x.{method}(...)` hands what it is given to no code that could step, clear or "
        "change a mode",
        same_object=same_object,
    )


TABLE: dict[str, Effect] = {
    # Autograd ------------------------------------------------------------------------------
    "<any>.backward": Effect("`loss.backward()`, `accelerator.backward(loss)`, "
                             "`fabric.backward(loss)`: accumulates into `.grad`", backward=True),
    "torch.autograd.backward": Effect("accumulates into `.grad`", backward=True),
    "torch.autograd.grad": Effect("returns gradients; `.grad` is left alone", grad_use=True),
    "torch.distributed.autograd.*": Effect(
        "distributed autograd keeps gradients per context; `.grad` is left alone", grad_use=True
    ),
    "<any>.requires_grad_": Effect(
        "`x.requires_grad_()` (or `(True)`) marks tensors as needing gradients; "
        "`model.requires_grad_(False)` freezes the model: autograd records nothing for its "
        "parameters, so evaluating it on inputs that need no gradient stores no graph",
        grad_use=True, freezes=True),
    # Adversarial attacks differentiate through the model with respect to its input: a loop
    # that runs one needs autograd, whatever else it evaluates.
    **{f"{package}.*": Effect(f"`{package}`: builds an adversarial attack; running it "
                              "differentiates through the model", builds="attack")
       for package in ("advertorch.attacks", "torchattacks", "foolbox.attacks")},
    "<attack>.__call__": Effect("`attack(x, y)` (torchattacks, foolbox): differentiates through "
                                "the model with respect to the input", grad_use=True),
    "<any>.perturb": Effect("advertorch's `adversary.perturb(x, y)`: differentiates through "
                            "the model with respect to the input", grad_use=True),
    # Grad mode -----------------------------------------------------------------------------
    "torch.no_grad": Effect("disables autograd for what it wraps", grad_mode="off"),
    "torch.inference_mode": Effect(
        "disables autograd for what it wraps (unless given `False`)", grad_mode="off"
    ),
    "torch.enable_grad": Effect("enables autograd for what it wraps", grad_mode="on"),
    # Before torch 0.4, autograd was turned off per variable, not by a context.
    "torch.autograd.Variable": Effect(
        "pre-0.4: `Variable(x, volatile=True)` turned autograd off for everything computed "
        "from `x` (so does a `volatile=True` argument to any call); `Variable(t)` holds `t`'s "
        "value", grad_mode=VOLATILE, keeps_value=True),
    **{f"{package}.{iterator}": Effect(
        "pre-0.4 torchtext: built with `train=False`, it yields volatile batches (autograd off)",
        grad_mode=VOLATILE, free_when=NOT_TRAINING)
       for package in ("torchtext.data", "torchtext.legacy.data")
       for iterator in ("Iterator", "BucketIterator", "BPTTIterator")},
    "torch.set_grad_enabled": Effect(
        "sets autograd on or off from its argument, as a call or a context", grad_mode="flag"
    ),
    # Optimizer gradients -------------------------------------------------------------------
    "<optimizer>.step": Effect("updates the parameters from their gradients", grads=STEPS),
    "<any>.zero_grad": Effect(
        "`opt.zero_grad()` clears that optimizer; `model.zero_grad()` the optimizer built over "
        "the model's parameters, else every optimizer",
        grads=CLEARS,
    ),
    "<scaler>.unscale_": Effect(
        "`scaler.unscale_(opt)`: divides the gradients of `opt` by the scale, in place",
        grads=READS,
        whose=FIRST_ARG,
    ),
    "<any>.clip_gradients": Effect(
        "Fabric's `fabric.clip_gradients(model, opt, ...)`: clips the gradients in place; the "
        "model's mode is left as it is", grads=READS),
    "*.save_checkpoint": Effect(
        "a checkpoint helper: saves the model and optimizer states, changes neither",
        grads=READS),
    "*.load_checkpoint": Effect(
        "a checkpoint helper: restores states; the optimizer's gradients are left alone (the "
        "model's mode is not known after it)", grads=READS, model_mode="unk"),
    "<scaler>.step": Effect(
        "`scaler.step(opt)`: steps the optimizer it is given", grads=STEPS, whose=FIRST_ARG
    ),
    "<any>.optimizer_step": Effect(
        "`xm.optimizer_step(opt)`: steps the optimizer it is given", grads=STEPS, whose=FIRST_ARG
    ),
    "<engine>.step": Effect(
        "DeepSpeed's `engine.step()`: steps and then clears the gradients",
        grads=STEPS_AND_CLEARS,
        whose=EVERY,
    ),
    # Updates by hand: `p.data.add_(p.grad, alpha=-lr)`, `p -= lr * p.grad`.
    "<parameter>.add_": Effect("`p.data.add_(p.grad, alpha=-lr)`: a step by hand", grads=STEPS),
    "<parameter>.sub_": Effect("`p.data.sub_(lr * p.grad)`: a step by hand", grads=STEPS),
    "<parameter>.__isub__": Effect("`p -= lr * p.grad`: a step by hand", grads=STEPS),
    "<parameter>.__iadd__": Effect("`p += -lr * p.grad`: a step by hand", grads=STEPS),
    "<scheduler>.step": Effect("changes the learning rate; gradients are left alone"),
    # Gradient hooks: the hook reads each gradient as backward computes it, as code reading
    # `.grad` does, and may use it for something else than a step (pruning ranks, saliency).
    **{f"<any>.{m}": Effect(f"`x.{m}(fn)`: `fn` reads the gradients backward computes",
                            grads=READS, whose=EVERY) for m in (
        "register_hook", "register_full_backward_hook", "register_backward_hook")},
    "<grad>.zero_": Effect("`p.grad.zero_()`: clears that parameter's gradient", grads=CLEARS,
                           whose=EVERY),
    "<grad>.fill_": Effect("`p.grad.fill_(0)` (or `p.grad.data.fill_(0)`): clears that "
                           "parameter's gradient; a fill with any other value is not a clear",
                           grads=CLEARS, whose=EVERY),
    # Assigned to `p.grad`, fresh zeros clear that gradient, as `p.grad = None` does.
    "torch.zeros_like": Effect("a tensor of zeros; `p.grad = torch.zeros_like(p)` clears",
                               builds="zeros"),
    "torch.zeros": Effect("a tensor of zeros; `p.grad = torch.zeros(...)` clears", builds="zeros"),
    "<any>.new_zeros": Effect("a tensor of zeros; `p.grad = p.grad.new_zeros(...)` clears",
                              builds="zeros"),
    "<any>.zero_": Effect("`t.zero_()` fills `t` with zeros and returns it: `p.grad = "
                          "g.new().resize_as_(g).zero_()` (or `p.grad.data = ...`) clears",
                          builds="zeros"),
    "<grad>.detach_": Effect("`p.grad.detach_()`: detaches; the gradient stays as it is"),
    # Logging a gradient's size or clipping it by hand reads `.grad` but applies nothing.
    **{f"<grad>.{m}": Effect(f"`p.grad.{m}(...)`: a statistic of the gradient; applies nothing "
                             "to the weights", inspects=True)
       for m in ("norm", "mean", "std", "var", "max", "min", "item", "numel", "size", "dim",
                 "isnan", "isinf", "isfinite")},
    **{f"<grad>.{m}": Effect(f"`p.grad.{m}(...)`: changes the gradient where it stays (clipping, "
                             "scaling by hand); applies nothing to the weights", inspects=True)
       for m in ("clamp_", "clip_", "mul_", "div_", "nan_to_num_")},
    "<any>.add_histogram": Effect("`writer.add_histogram(tag, p.grad, step)` (TensorBoard): "
                                  "records the gradients it is given; applies nothing",
                                  inspects=True),
    **{f"<optimizer>.{m}": _optimizer_read(m) for m in (
        "state_dict", "load_state_dict", "add_param_group", "register_step_pre_hook",
        "register_step_post_hook", "param_groups", "__repr__")},
    # Model mode ----------------------------------------------------------------------------
    "<any>.eval": Effect("puts the model in eval mode and returns it", model_mode="eval",
                         same_object=True),
    "<any>.train": Effect("puts the model in train mode (or the mode its flag says) and "
                          "returns it", model_mode="flag", same_object=True),
    "<model>.forward": Effect("runs the model's forward pass", forward=True),
    "<model>.generate": Effect(
        "Hugging Face `model.generate(...)`: forward passes under `no_grad` of its own (dropout "
        "applies: the model's mode matters)", forward=True, grad_mode="off"),
    # Context managers that take the model but leave its mode and gradients alone.
    "<any>.accumulate": _neutral_method("accumulate"),
    "<any>.no_backward_sync": _neutral_method("no_backward_sync"),
    # Calls that hand an object to no code that could change it -----------------------------
    **{f"<any>.{m}": _neutral_method(m, same_object=True) for m in (
        "to", "cuda", "cpu", "half", "float", "double", "bfloat16")},
    **{f"<any>.{m}": _neutral_method(m) for m in (
        "parameters", "named_parameters", "state_dict", "modules",
        "children", "apply", "register_forward_hook", "size", "numel",
        "add_param_group")},
    "<any>.load_state_dict": Effect(
        "`x.load_state_dict(state)` hands what it is given to no code that could step, clear "
        "or change a mode; `state` holds tensors, not a module (`torch.load` there loads no "
        "layer)", takes_state=True),
    **{name: _pure(name) for name in _BUILTINS},
    # Calls that end the program: what follows them on the same path never runs -------------
    **{name: Effect(f"`{name}(...)` ends the program: a branch that calls it does not go on",
                    ends=True)
       for name in ("sys.exit", "exit", "quit", "os._exit", "os.abort")},
    # What evaluation does with a model's result: metrics and outputs -----------------------
    **{f"<any>.{m}": _output(m) for m in (
        "item", "detach", "argmax", "argmin", "tolist", "numpy", "eq", "ne", "decode",
        "batch_decode")},
    "super": Effect("`super(Net, self)` only finds the base class, exactly as `super()` does; "
                    "`self` is handed to no code that could change it"),
    "torch.nn.functional.*": Effect("`torch.nn.functional` (`F.relu`, `F.softmax`): functions "
                                    "of tensors; given as a value (`net = F.softmax`) one is no "
                                    "model and has no mode", function=True),
    "functools.partial": Effect("`partial(f, ...)` binds arguments: of a plain function it is a "
                                "plain function (no model, no mode), of a class a factory; what "
                                "it is given runs later, out of view", binds=True,
                                hands_on=True),
    "torch*": Effect("any other function of torch or of a `torch*` package (torchvision, "
                     "torchmetrics, ...): changes no optimizer and no model mode"),
    # Constructors --------------------------------------------------------------------------
    "torch.optim.lr_scheduler.*": Effect("builds a learning-rate scheduler", builds="scheduler"),
    "torch.optim.*": Effect("an optimizer class (capitalised) builds an optimizer",
                            builds="optimizer"),
    "torch.nn.*": Effect("a module class (capitalised) builds a model", builds="model"),
    "transformers.*": Effect("a model class (`BertModel`, `*For*`) builds a model; other "
                             "calls are unknown", builds="model", hands_on=True),
    # What train/eval mode changes in what a constructor builds ----------------------------
    **{f"torch.nn.{layer}": Effect("dropout: active in train mode only; mode-free at rate 0",
                                   builds="model", mode=SENSITIVE, free_when=ZERO_RATE)
       for layer in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
                     "FeatureAlphaDropout")},
    **{f"torch.nn.{layer}": Effect("batch-norm: batch statistics in train mode, running ones "
                                   "in eval mode", builds="model", mode=SENSITIVE)
       for layer in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LazyBatchNorm1d",
                     "LazyBatchNorm2d", "LazyBatchNorm3d", "SyncBatchNorm")},
    **{f"torch.nn.{layer}": Effect("instance-norm: mode-free unless it tracks running "
                                   "statistics", builds="model", mode=SENSITIVE,
                                   free_when=NO_RUNNING_STATS)
       for layer in ("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LazyInstanceNorm1d",
                     "LazyInstanceNorm2d", "LazyInstanceNorm3d")},
    "torch.nn.RReLU": Effect("a random slope in train mode only", builds="model",
                             mode=SENSITIVE),
    **{f"torch.nn.{layer}": Effect("dropout 0.1 unless built with `dropout=0`",
                                   builds="model", mode=SENSITIVE, free_when=NO_DROPOUT)
       for layer in ("Transformer", "TransformerEncoderLayer", "TransformerDecoderLayer")},
    "torchvision.models.*": Effect("a model zoo's model (dropout, batch-norm): builds a "
                                   "mode-sensitive model", builds="model", mode=SENSITIVE),
    "timm.create_model": Effect("a model zoo's model: builds a mode-sensitive model",
                                builds="model", mode=SENSITIVE),
    **{name: Effect(f"`{name.rpartition('.')[2]}(module)` reparametrises the weights of the "
                    "module it is given; train and eval mode compute alike unless they do for "
                    "that module", builds="model", mode=AS_GIVEN)
       for name in ("torch.nn.utils.weight_norm", "torch.nn.utils.parametrizations.weight_norm")},
    "pyro.random_module": Effect("`pyro.random_module(name, module, priors)` returns a sampler "
                                 "of copies of `module` with weights drawn from the priors: "
                                 "its layers, so its sensitivity to the mode", mode=AS_GIVEN),
    # Numeric, audio and image libraries build arrays, never a torch model or layer: a
    # module's constructor that calls them (`librosa.filters.mel(...)` for a mel basis,
    # `np.prod(ratios)`) gains no mode-sensitive part from them, and what a helper computes
    # with them (a filter window, a shape) is no layer, whatever is done with it.
    **{f"{package}.*": Effect(f"`{package}`: arrays, images and numbers; builds no torch "
                              "module, so a model built with its help gains no mode-sensitive "
                              "layer from it", mode=FREE, builds="foreign")
       for package in ("numpy", "scipy", "pandas", "librosa", "cv2", "PIL")},
    **{name: Effect("loads an object not in view: a model of unknown layers, counted as "
                    "mode-sensitive", mode=UNKNOWN)
       for name in ("torch.load", "torch.jit.load", "torch.hub.load")},
    # Wrappers that return the model or optimizer they are given --------------------------
    # The result is the same object for the rules: its mode, and its optimizer's gradients,
    # are those of what was wrapped (`net = DDP(model)`; `net.eval()` puts `model` in eval).
    **{name: Effect(f"`{name.rpartition('.')[2]}(model)` wraps the model; the wrapper runs it "
                    "in the model's own mode", builds="model", same_object=True) for name in (
        "torch.nn.DataParallel", "torch.nn.parallel.DataParallel",
        "torch.nn.parallel.DistributedDataParallel")},
    "torch.compile": Effect("returns the model compiled; its mode is the model's",
                            same_object=True),
    "apex.amp.initialize": Effect("returns the model(s) and optimizer(s) it is given, patched "
                                  "for mixed precision", same_object=True),
    "accelerate.Accelerator": Effect("builds an accelerator; with `gradient_accumulation_steps` "
                                     "(not 1) or `gradient_accumulation_plugin`, its "
                                     "`accumulate` windows span several micro-batches",
                                     builds="accelerator",
                                     windows_with=("gradient_accumulation_steps",
                                                   "gradient_accumulation_plugin")),
    "<accelerator>.prepare": Effect("returns what it is given, in order, set up for the "
                                    "devices: the same models, optimizers and modes; an "
                                    "optimizer comes back wrapped (`AcceleratedOptimizer`), "
                                    "its `step()` and `zero_grad()` doing nothing while "
                                    "`accelerator.sync_gradients` is false",
                                    same_object=True, returns_args=True, defers=True),
    "<accelerator>.accumulate": Effect("`with accelerator.accumulate(model):` runs one "
                                       "micro-batch of a window of `gradient_accumulation_steps`"
                                       "; it sets `accelerator.sync_gradients`, true only in the "
                                       "window's last micro-batch, so the prepared optimizers "
                                       "step and clear only then", window=True),
    "<accelerator>.unwrap_model": Effect("returns the model inside the wrapper",
                                         same_object=True, returns_args=True),
    **{name: Effect("builds a Lightning Fabric", builds="fabric") for name in (
        "lightning.Fabric", "lightning.fabric.Fabric", "lightning_fabric.Fabric")},
    **{f"<fabric>.{m}": Effect("returns the model and optimizers it is given, set up for the "
                               "devices", same_object=True, returns_args=True) for m in (
        "setup", "setup_module", "setup_optimizers")},
    **{f"<any>.{m}": Effect("Opacus: returns the model, optimizer and data loader it is given, "
                            "made differentially private", same_object=True,
                            returns_args=True) for m in (
        "make_private", "make_private_with_epsilon")},
    # Framework hooks: Lightning calls them with the model in eval mode and autograd off -----
    **{f"<lightning>.{hook}": Effect("Lightning runs it in eval mode with autograd off",
                                     grad_mode="off", model_mode="eval")
       for hook in ("validation_step", "test_step", "predict_step", "on_validation_*",
                    "on_test_*", "on_predict_*")},
    # Entry points: functions handed over as values, run with autograd on ---------------------
    "<any>.set_defaults": Effect("argparse's `parser.set_defaults(func=main)`: the script "
                                 "runs `args.func(args)`, with autograd on", launches=True),
    "<any>.launch": Effect("Fabric's `fabric.launch(main)`: runs `main` in each process, with "
                           "autograd on", launches=True),
    **{name: Effect(f"`{name}(target=train)` runs the function in a new thread or process, "
                    "where autograd is on", launches=True) for name in (
        "threading.Thread", "multiprocessing.Process", "torch.multiprocessing.Process")},
    **{name: Effect(f"`{name}(main, ...)` runs the function in new processes, where autograd "
                    "is on", launches=True) for name in (
        "torch.multiprocessing.spawn", "accelerate.notebook_launcher")},
    "fire.Fire": Effect("`fire.Fire(main)` runs the function from the command line, with "
                        "autograd on", launches=True),
    # Other frameworks: what they build is never a torch model ------------------------------
    **{f"{package}.*": Effect(f"`{package}`: builds no torch model (its models, estimators and "
                              "layers have modes and gradients of their own)", builds="foreign")
       for package in ("tensorflow", "keras", "tf_keras", "jax", "flax", "haiku", "sklearn",
                       "xgboost", "lightgbm", "catboost")},
    "deepspeed.initialize": Effect("returns an engine first: `engine.step()` steps and clears",
                                   builds="engine", hands_on=True),
}  # fmt: skip


# Hugging Face libraries (transformers, diffusers, peft) name every class for its family:
# `BertTokenizerFast`, `AutoImageProcessor`, `RagRetriever`, `DDPMScheduler`. What
# `X.from_pretrained(...)` loads is a module (a model, in eval mode: `from_pretrained` calls
# `model.eval()`) unless X's name ends in one of these families, which load objects that are not
# modules: no forward pass to guard, no mode to set.
PRETRAINED_NOT_MODULES: dict[str, str] = {
    "Tokenizer": "a tokenizer (`AutoTokenizer`, `BertTokenizerFast`)",
    "Processor": "a processor (`AutoProcessor`, `CLIPImageProcessor`)",
    "FeatureExtractor": "a feature extractor (`Wav2Vec2FeatureExtractor`)",
    "Config": "a configuration (`AutoConfig`, `BertConfig`)",
    "Retriever": "a retrieval index (`RagRetriever`)",
    "Pipeline": "a pipeline, which sets eval mode and disables autograd itself",
    "Scheduler": "a diffusers noise scheduler (`DDPMScheduler`)",
}
# A family's name ends the class name (`Fast` may follow, as in `BertTokenizerFast`); a
# pipeline's may be followed by what it is for (`AutoPipelineForText2Image`).
_FAMILY = re.compile(
    r"(?:" + "|".join(f for f in PRETRAINED_NOT_MODULES if f != "Pipeline") + r")(?:Fast)?$"
    r"|Pipeline"
)


def pretrained_is_module(cls: str) -> bool:
    """Whether `cls.from_pretrained(...)` (cls a qualified class name) loads a module."""
    return _FAMILY.search(cls.rpartition(".")[2]) is None


def lookup(full: str | None) -> Effect | None:
    """The entry for a qualified callee: an exact entry, else the longest prefix entry."""
    if full is None:
        return None
    effect = TABLE.get(full)
    if effect is not None:
        return effect
    parts = full.split(".")
    for end in range(len(parts) - 1, 0, -1):
        effect = TABLE.get(".".join(parts[:end]) + ".*")
        if effect is not None:
            return effect
    for key in _STARRED:
        if full.startswith(key[:-1]) and key in TABLE:
            return TABLE[key]
    return None


def is_neutral(effect: Effect | None) -> bool:
    """A known call that hands what it is given to no code that could change it."""
    return (
        effect is not None
        and not effect.hands_on
        and effect.grads in (NEUTRAL, READS)
        and not (effect.backward or effect.grad_use or effect.forward)
        and effect.grad_mode is None
        and effect.model_mode is None
    )


# `torch*`: a prefix of package names (`torchvision`, `torchmetrics`), not of dotted names.
_STARRED = tuple(k for k in TABLE if k.endswith("*") and not k.endswith(".*"))


def by_last_name(name: str) -> Effect | None:
    """The entry for any function or method whose last name is `name` (`*.save_checkpoint`)."""
    return TABLE.get("*." + name)


# Packages whose classes make a subclass's methods hooks of kind `lightning`.
LIGHTNING_PACKAGES = ("pytorch_lightning.", "lightning.", "lightning.pytorch.")


def hook(kind: str, name: str) -> Effect | None:
    """The entry for a method a framework calls (`<lightning>.on_validation_*` matches
    `on_validation_epoch_end`)."""
    exact = TABLE.get(f"<{kind}>.{name}")
    if exact is not None:
        return exact
    for key, effect in TABLE.items():
        prefix = f"<{kind}>."
        if key.startswith(prefix) and key.endswith("*") and name.startswith(key[len(prefix) : -1]):
            return effect
    return None


def method(kind: str, name: str) -> Effect | None:
    """The entry for method `name` called on a receiver of `kind` (no fallback to `<any>`)."""
    return TABLE.get(f"<{kind}>.{name}")


# Documentation --------------------------------------------------------------------------------


def _columns(effect: Effect) -> list[str]:
    grads = effect.grads if effect.grads != NEUTRAL else ""
    if grads and effect.whose != RECEIVER:
        grads += f" ({effect.whose})"
    other = [
        text
        for flag, text in (
            (effect.backward, "backward"),
            (effect.grad_use, "differentiates, `.grad` untouched"),
            (effect.forward, "forward pass"),
            (effect.same_object and not effect.returns_args, "returns the same object"),
            (effect.returns_args, "returns the objects it is given"),
            (effect.hands_on, "hands its arguments to unseen code"),
            (effect.output, "a metric or an output"),
            (effect.launches, "runs the function it is given"),
            (effect.keeps_value, "holds its first argument's value"),
            (effect.ends, "ends the program"),
            (effect.window, "an accumulation window"),
            (effect.defers, "optimizers deferred in a window"),
            (effect.function, "a plain function"),
            (effect.binds, "binds a function's arguments"),
            (effect.takes_state, "given a state, not a module"),
            (effect.inspects, "reads the gradient, applies nothing"),
            (effect.freezes, "with `False`: freezes the model"),
        )
        if flag
    ]
    if effect.builds:
        other.append(f"builds {effect.builds}")
    if effect.mode:
        other.append(
            f"mode-{effect.mode}" + (f" (free with {effect.free_when})" if effect.free_when else "")
        )
    return [
        effect.grad_mode or "",
        effect.model_mode or "",
        grads,
        ", ".join(other),
        effect.does,
    ]


def markdown() -> str:
    """docs/library-knowledge.md, generated from `TABLE`."""
    lines = [
        "# What lint-train knows about library calls",
        "",
        "Generated from `src/lint_train/analysis/knowledge.py` by",
        "`python -m lint_train.analysis.knowledge --markdown`; do not edit by hand.",
        "",
        "A call in this table has the meaning given here. A call that is not in it is unknown:",
        "when it receives an optimizer or a model, the analysis stops assuming what state that",
        "object is in, and the rules that would need it stay quiet.",
        "",
        "Keys: `torch.autograd.grad` is a qualified name (imports are resolved, so",
        "`from torch import autograd as ag; ag.grad(...)` matches); `torch.nn.*` is every name",
        "under a prefix that has no entry of its own; `<kind>.method` is a method called on an",
        "object the analysis knows to be of that kind:",
        "",
    ]
    lines += [f"- `{kind}`: {text}" for kind, text in KINDS.items()]
    lines += [
        "",
        "`X.from_pretrained(...)` (Hugging Face) loads a module, in eval mode, unless the name",
        "of the class `X` ends in a family whose objects are not modules (`Fast` may follow, as",
        "in `BertTokenizerFast`; a pipeline's name may go on, as in `AutoPipelineForText2Image`).",
        "`X` may be a name unpacked from a table",
        "of classes (`config_class, model_class, tokenizer_class = MODEL_CLASSES[name]`): it is",
        "judged by every class the table holds at that position.",
        "",
    ]
    lines += [f"- `{family}`: {text}" for family, text in PRETRAINED_NOT_MODULES.items()]
    lines += [
        "",
        "| call | grad mode | model mode | optimizer gradients | also | what it does |",
        "|---|---|---|---|---|---|",
    ]
    for key, effect in TABLE.items():
        cells = [f"`{key}`", *_columns(effect)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m lint_train.analysis.knowledge --markdown")
    sys.stdout.write(markdown())
