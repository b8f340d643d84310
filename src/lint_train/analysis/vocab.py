"""The words and library names that tell what an object in a training script is."""

from __future__ import annotations

import re

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def tokens(name: str) -> list[str]:
    """`val_loader` -> ["val", "loader"]; `netD` -> ["net", "d"]; `evalLoss` -> ["eval", "loss"]."""
    out: list[str] = []
    for part in re.split(r"[_\W]+", name):
        out.extend(p.lower() for p in _CAMEL.split(part) if p)
    return out


OPTIMIZER_CLASSES = frozenset(
    {
        "SGD", "Adam", "AdamW", "Adamax", "Adagrad", "Adadelta", "ASGD", "LBFGS", "NAdam",
        "RAdam", "RMSprop", "Rprop", "SparseAdam", "Adafactor", "Lion", "Lamb", "LAMB",
        "FusedAdam", "FusedLAMB", "AdamW8bit", "Adam8bit", "Muon", "Shampoo", "SophiaG",
    }
)  # fmt: skip
EVAL_WORDS = frozenset(
    {"eval", "evaluate", "evaluation", "validate", "validation", "val", "valid", "predict",
     "prediction", "inference", "infer", "estimate"}
)  # fmt: skip
LOADER_EVAL_WORDS = frozenset(
    {"val", "valid", "validation", "test", "testing", "eval", "evaluation", "dev", "holdout"}
)
MODEL_WORDS = frozenset(
    {"model", "models", "net", "network", "generator", "discriminator", "encoder", "decoder",
     "classifier", "backbone", "policy", "actor", "critic", "netg", "netd", "unet", "vae",
     "autoencoder", "transformer", "gpt", "bert", "resnet", "cnn", "mlp", "lstm", "rnn",
     "student", "teacher", "module"}
)  # fmt: skip


def is_optimizer_name(text: str) -> bool:
    last = text.split(".")[-1]
    low = last.lower()
    if is_scheduler_name(text) or "scaler" in low:
        return False
    words = tokens(last)
    if any(w in {"optimizer", "optimizers", "optimiser", "optim", "opt"} for w in words):
        return True
    return low.startswith(("optimizer", "optimiser", "optim")) or (
        low.startswith("opt") and len(low) <= 5 and low not in {"opts", "option"}
    )


def is_scheduler_name(text: str) -> bool:
    low = text.split(".")[-1].lower()
    return "sched" in low or low.startswith("lr_") or "warmup" in low


def is_scaler_name(text: str) -> bool:
    return "scaler" in text.split(".")[-1].lower()


# Words that make a name about a model, not a model: `model_cls`, `build_model`, `model_path`.
NOT_MODEL_WORDS = frozenset(
    {"cls", "class", "fn", "func", "factory", "name", "names", "path", "dir", "type", "config",
     "cfg", "kwargs", "args", "id", "ids", "str", "file", "url", "state", "dict", "builder",
     "get", "set", "build", "create", "make", "load", "save", "init", "update", "compute",
     "run", "to", "wrap", "register", "apply", "list", "fns", "hook", "hooks", "output",
     "outputs", "params", "parameters", "size", "dim", "version", "enable", "disable",
     "offload"}
)  # fmt: skip


def is_model_name(text: str) -> bool:
    last = text.split(".")[-1]
    words = tokens(last)
    if any(w in NOT_MODEL_WORDS for w in words):
        return False
    return any(w in MODEL_WORDS for w in words) or last.lower() in {"netg", "netd"}


def is_eval_function_name(name: str) -> bool:
    words = tokens(name)
    if not words:
        return False
    if words[0] == "test":
        # `test` / `test_epoch` evaluate a model; `test_model_shapes` is a unit test.
        return len(words) == 1 or words[1:] in (["epoch"], ["one", "epoch"], ["loop"])
    if "estimate" in words and not any(w in _EVAL_WORDS_BUT_ESTIMATE for w in words):
        # `estimate_loss` evaluates; `estimate_returns_and_advantages` (RL) and `estimate_mfu`
        # are part of training or bookkeeping.
        return any(w in ESTIMATED_METRICS for w in words)
    return any(w in EVAL_WORDS for w in words) or words[-1] == "test"


_EVAL_WORDS_BUT_ESTIMATE = EVAL_WORDS - {"estimate"}
ESTIMATED_METRICS = frozenset(
    {"loss", "losses", "metric", "metrics", "error", "errors", "accuracy", "acc", "perplexity",
     "ppl", "score", "scores"}
)  # fmt: skip


def names_eval_data(text: str) -> bool:
    return any(w in LOADER_EVAL_WORDS for w in tokens(text))
