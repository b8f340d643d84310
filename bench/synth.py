"""A synthetic PyTorch repository, the same for the same size and seed.

The mix follows real training repositories: most files are models, datasets and utilities,
and a minority are training or evaluation scripts and tests. Some training scripts carry the
mistakes lint-train looks for, so a run has findings to report. Every file is valid Python
(checked with `compile` as it is written).

    python bench/synth.py OUT_DIR 1000
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path

# Share of each kind of file (they add up to 1).
MIX = (
    ("model", 0.34),
    ("data", 0.14),
    ("util", 0.25),
    ("train", 0.09),
    ("evaluate", 0.03),
    ("test", 0.10),
    ("config", 0.05),
)
PACKAGE = "proj"

PREFIXES = (
    "Res", "Conv", "Attn", "Mix", "Dense", "Sparse", "Gated", "Deep", "Light", "Fast", "Multi",
    "Cross", "Vision", "Text", "Audio", "Graph", "Patch", "Window", "Local", "Global", "Tiny",
)  # fmt: skip
SUFFIXES = ("Block", "Net", "Layer", "Encoder", "Decoder", "Head", "Stem", "Unit", "Mixer", "Stage")
TOPICS = (
    "cifar", "imagenet", "speech", "captions", "shapes", "sentiment", "segmentation", "tabular",
    "translation", "detection", "pose", "weather", "genomics", "charlm", "music", "depth",
)  # fmt: skip
ACTIVATIONS = ("ReLU", "GELU", "SiLU", "LeakyReLU", "Mish")
OPTIMIZERS = ("SGD", "Adam", "AdamW", "RMSprop")


class Writer:
    """Builds one file from blocks of code with fresh names."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def pick(self, options: tuple[str, ...]) -> str:
        return self.rng.choice(options)

    def class_name(self) -> str:
        while True:
            name = self.pick(PREFIXES) + self.pick(PREFIXES) + self.pick(SUFFIXES)
            if name not in self.used:
                self.used.add(name)
                return name

    def function_name(self, verbs: tuple[str, ...], nouns: tuple[str, ...]) -> str:
        while True:
            name = f"{self.pick(verbs)}_{self.pick(nouns)}"
            if name not in self.used:
                self.used.add(name)
                return name


# Models -----------------------------------------------------------------------------------------
def conv_block(w: Writer) -> str:
    name, act = w.class_name(), w.pick(ACTIVATIONS)
    drop = w.rng.choice(("0.0", "0.1", "0.2", "0.3"))
    return f'''
class {name}(nn.Module):
    """A convolution, a normalisation and an activation, with a residual path."""

    def __init__(
        self,
        in_channels: int = {w.rng.choice((3, 16, 32, 64))},
        channels: int = {w.rng.choice((32, 64, 128, 256))},
        dropout: float = {drop},
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=3, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(channels)
        self.act = nn.{act}()
        self.drop = nn.Dropout2d(dropout)
        self.shortcut = (
            nn.Identity()
            if in_channels == channels
            else nn.Conv2d(in_channels, channels, kernel_size=1, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.shortcut(x)
        out = self.act(self.norm1(self.conv1(x)))
        out = self.drop(out)
        out = self.norm2(self.conv2(out))
        return self.act(out + residual)
'''


def attention_block(w: Writer) -> str:
    name = w.class_name()
    return f'''
class {name}(nn.Module):
    """Multi-head self-attention followed by a feed-forward layer."""

    def __init__(
        self,
        dim: int = {w.rng.choice((128, 256, 384, 512))},
        heads: int = {w.rng.choice((4, 8, 12))},
        mlp_ratio: float = 4.0,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim)
        )

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        weights = (q @ k.transpose(-2, -1)) * self.scale
        weights = weights.softmax(dim=-1)
        out = (weights @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attend(self.norm1(x))
        return x + self.mlp(self.norm2(x))
'''


def mlp_model(w: Writer) -> str:
    name, act = w.class_name(), w.pick(ACTIVATIONS)
    layers = w.rng.randint(2, 5)
    return f'''
class {name}(nn.Module):
    """A plain multi-layer perceptron."""

    def __init__(
        self,
        in_features: int = {w.rng.choice((16, 64, 784))},
        hidden: int = {w.rng.choice((64, 128, 512))},
        out_features: int = {w.rng.choice((2, 10, 100))},
    ) -> None:
        super().__init__()
        blocks = []
        width = in_features
        for _ in range({layers}):
            blocks += [nn.Linear(width, hidden), nn.{act}()]
            width = hidden
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(width, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x.flatten(1)))
'''


def backbone(w: Writer, parts: list[str]) -> str:
    name = w.class_name()
    stages = ", ".join(f"{p}()" for p in parts[:3]) or "nn.Identity()"
    predict = ""
    if w.rng.random() < 0.15:
        predict = """
    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x).argmax(dim=-1)
"""
    return f'''
class {name}(nn.Module):
    """Stages of blocks, pooled, then a linear classifier."""

    def __init__(self, num_classes: int = {w.rng.choice((10, 100, 1000))}) -> None:
        super().__init__()
        self.stages = nn.ModuleList([{stages}])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.LazyLinear(num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            x = stage(x)
        return self.classifier(self.pool(x).flatten(1))
{predict}'''


def model_helpers(w: Writer) -> str:
    init = w.function_name(("init", "reset", "setup"), ("weights", "params", "layers"))
    count = w.function_name(("count", "num", "total"), ("parameters", "params", "weights"))
    return f"""
def {init}(module: nn.Module, std: float = 0.02) -> None:
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            nn.init.trunc_normal_(layer.weight, std=std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, (nn.BatchNorm2d, nn.LayerNorm)):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)


def {count}(module: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
"""


def model_file(w: Writer) -> str:
    out = ['"""Model definitions."""\n', "import math\n\nimport torch\nimport torch.nn as nn\n"]
    parts: list[str] = []
    for _ in range(w.rng.choice((2, 3, 4, 5, 6, 8, 10, 12, 16, 24))):
        block = w.rng.choice((conv_block, conv_block, attention_block, mlp_model))(w)
        parts.append(block.split("class ", 1)[1].split("(", 1)[0])
        out.append(block)
    out.append(backbone(w, parts))
    if w.rng.random() < 0.6:
        out.append(model_helpers(w))
    return "\n".join(out)


# Data -------------------------------------------------------------------------------------------
def data_file(w: Writer) -> str:
    name = w.class_name().replace("Net", "Set") + "Dataset"
    topic = w.pick(TOPICS)
    splits = w.rng.random() < 0.5
    loaders = ""
    if splits:
        loaders = f"""

def build_loaders(root: str, batch_size: int = 64, workers: int = 4):
    train_set = {name}(root, split="train")
    val_set = {name}(root, split="val")
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, num_workers=workers)
    val_loader = DataLoader(val_set, batch_size=batch_size, shuffle=False, num_workers=workers)
    return train_loader, val_loader
"""
    else:
        loaders = f"""

def build_loader(root: str, batch_size: int = 64, workers: int = 4, shuffle: bool = True):
    return DataLoader({name}(root), batch_size=batch_size, shuffle=shuffle, num_workers=workers)
"""
    return f'''"""The {topic} data: files on disk to tensors."""

import json
import os
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset


class {name}(Dataset):
    """Samples listed in an index file, loaded lazily."""

    def __init__(self, root: str, split: str = "train", transform=None) -> None:
        self.root = Path(root)
        self.transform = transform
        with open(self.root / f"{{split}}.json", encoding="utf-8") as f:
            self.items = json.load(f)
        self.classes = sorted({{item["label"] for item in self.items}})
        self.class_to_idx = {{c: i for i, c in enumerate(self.classes)}}

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        item = self.items[index]
        sample = torch.load(os.path.join(self.root, item["path"]))
        if self.transform is not None:
            sample = self.transform(sample)
        return sample, self.class_to_idx[item["label"]]


def normalise(
    x: torch.Tensor, mean: float = {w.rng.random():.3f}, std: float = {0.1 + w.rng.random():.3f}
) -> torch.Tensor:
    return (x - mean) / std


def collate(batch):
    samples, labels = zip(*batch)
    return torch.stack(samples), torch.tensor(labels)


class RandomAugment:
    """Random crops and flips of image tensors, then normalisation."""

    def __init__(self, size: int = {w.rng.choice((32, 64, 224))}, flip: float = 0.5) -> None:
        self.size = size
        self.flip = flip
        self.pad = 4

    def crop(self, image: torch.Tensor) -> torch.Tensor:
        padded = torch.nn.functional.pad(image, [self.pad] * 4, mode="reflect")
        top = int(torch.randint(0, 2 * self.pad + 1, ()).item())
        left = int(torch.randint(0, 2 * self.pad + 1, ()).item())
        return padded[..., top : top + self.size, left : left + self.size]

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        image = self.crop(image)
        if torch.rand(()) < self.flip:
            image = image.flip(-1)
        return normalise(image)
{loaders}'''


# Utilities --------------------------------------------------------------------------------------
def util_meter(w: Writer) -> str:
    return '''
class AverageMeter:
    """Running average of a scalar, for logging."""

    def __init__(self, name: str, fmt: str = ":.4f") -> None:
        self.name = name
        self.fmt = fmt
        self.reset()

    def reset(self) -> None:
        self.sum = 0.0
        self.count = 0

    def update(self, value: float, n: int = 1) -> None:
        self.sum += value * n
        self.count += n

    @property
    def avg(self) -> float:
        return self.sum / max(self.count, 1)

    def __str__(self) -> str:
        return ("{name} {avg" + self.fmt + "}").format(name=self.name, avg=self.avg)
'''


def util_checkpoint(w: Writer) -> str:
    return """
def save_checkpoint(state: dict, directory: str, is_best: bool = False) -> str:
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "checkpoint.pt")
    torch.save(state, path)
    if is_best:
        shutil.copyfile(path, os.path.join(directory, "model_best.pt"))
    return path


def load_checkpoint(path: str, model: torch.nn.Module, optimizer=None, map_location="cpu") -> int:
    state = torch.load(path, map_location=map_location)
    model.load_state_dict(state["model"])
    if optimizer is not None and "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
    return int(state.get("epoch", 0))
"""


def util_seed(w: Writer) -> str:
    return """
def set_seed(seed: int = 0, deterministic: bool = False) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def get_device(prefer_gpu: bool = True) -> torch.device:
    if prefer_gpu and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")
"""


def util_distributed(w: Writer) -> str:
    return """
def is_dist() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def world_size() -> int:
    return torch.distributed.get_world_size() if is_dist() else 1


def is_main_process() -> bool:
    return not is_dist() or torch.distributed.get_rank() == 0


def reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    if not is_dist():
        return tensor
    out = tensor.clone()
    torch.distributed.all_reduce(out)
    return out / world_size()
"""


def util_metrics(w: Writer) -> str:
    return """
def accuracy(output: torch.Tensor, target: torch.Tensor, topk=(1,)) -> list:
    maxk = max(topk)
    _, pred = output.topk(maxk, 1, True, True)
    pred = pred.t()
    correct = pred.eq(target.view(1, -1).expand_as(pred))
    return [correct[:k].reshape(-1).float().sum(0) * 100.0 / target.size(0) for k in topk]


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    index = target * num_classes + pred
    return torch.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)
"""


def util_logging(w: Writer) -> str:
    return """
def get_logger(name: str, level: int = logging.INFO) -> logging.Logger:
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)
    return logger


class Timer:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        elapsed, self.start = now - self.start, now
        return elapsed
"""


def util_schedule(w: Writer) -> str:
    return """
def cosine_lr(step: int, total: int, base_lr: float, warmup: int = 0, min_lr: float = 0.0) -> float:
    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * progress))


def set_lr(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
"""


def util_evaluate(w: Writer) -> str:
    return '''
def summarise_predictions(logits: torch.Tensor, labels: torch.Tensor) -> dict:
    """Aggregate numbers for an evaluation report."""
    probs = logits.softmax(dim=-1)
    confidence, predicted = probs.max(dim=-1)
    return {
        "accuracy": (predicted == labels).float().mean().item(),
        "mean_confidence": confidence.mean().item(),
    }
'''


def util_early_stopping(w: Writer) -> str:
    return '''
class EarlyStopping:
    """Stops training when a monitored number has not improved for `patience` checks."""

    def __init__(self, patience: int = 10, min_delta: float = 0.0, mode: str = "min") -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.mode = mode
        self.best = None
        self.bad_checks = 0

    def improved(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def step(self, value: float) -> bool:
        if self.improved(value):
            self.best = value
            self.bad_checks = 0
        else:
            self.bad_checks += 1
        return self.bad_checks >= self.patience
'''


def util_ema(w: Writer) -> str:
    return '''
class ModelEma:
    """An exponential moving average of a model's weights."""

    def __init__(self, model: torch.nn.Module, decay: float = 0.999) -> None:
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def update(self, model: torch.nn.Module) -> None:
        with torch.no_grad():
            for k, v in model.state_dict().items():
                if v.dtype.is_floating_point:
                    self.shadow[k].mul_(self.decay).add_(v.detach(), alpha=1 - self.decay)
                else:
                    self.shadow[k].copy_(v)

    def copy_to(self, model: torch.nn.Module) -> None:
        model.load_state_dict(self.shadow)
'''


def util_config(w: Writer) -> str:
    return """
def load_config(path: str, overrides: list | None = None) -> dict:
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    for item in overrides or []:
        key, _, raw = item.partition("=")
        node = config
        *parents, leaf = key.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        try:
            node[leaf] = json.loads(raw)
        except json.JSONDecodeError:
            node[leaf] = raw
    return config


def flatten(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out
"""


UTIL_BLOCKS: tuple[Callable[[Writer], str], ...] = (
    util_meter, util_checkpoint, util_seed, util_distributed, util_metrics, util_logging,
    util_schedule, util_evaluate, util_early_stopping, util_ema, util_config,
)  # fmt: skip


def util_file(w: Writer) -> str:
    header = '"""Helpers shared by the scripts."""\n\nimport json\nimport logging\nimport math\n'
    header += "import os\nimport random\nimport shutil\nimport time\n\nimport torch\n"
    blocks = w.rng.sample(UTIL_BLOCKS, w.rng.choice((2, 3, 4, 5, 6, 8)))
    if util_evaluate in blocks and w.rng.random() < 0.5:
        blocks.remove(util_evaluate)  # fewer utilities mention evaluation than not
    if not blocks:
        blocks = [util_seed]
    return header + "".join(block(w) for block in blocks)


# Training and evaluation scripts ---------------------------------------------------------------
def train_file(w: Writer, bug: str | None) -> str:
    opt = w.pick(OPTIMIZERS)
    topic = w.pick(TOPICS)
    amp = w.rng.random() < 0.3
    accumulate = w.rng.random() < 0.2
    model_cls = w.class_name()
    zero_before_loop = bug == "zero_grad"
    clear = "" if zero_before_loop else "        optimizer.zero_grad(set_to_none=True)\n"
    before = "    optimizer.zero_grad()\n" if zero_before_loop else ""
    if amp:
        update = (
            "        scaler.scale(loss).backward()\n"
            "        scaler.step(optimizer)\n"
            "        scaler.update()\n"
        )
    elif accumulate:
        clear = ""
        update = (
            "        (loss / args.accumulate).backward()\n"
            "        if (step + 1) % args.accumulate == 0:\n"
            "            optimizer.step()\n"
            "            optimizer.zero_grad()\n"
        )
    else:
        update = "        loss.backward()\n        optimizer.step()\n"
    if bug == "step":
        update = "        loss.backward()\n        scheduler.step()\n"
    no_grad = "" if bug == "no_grad" else "@torch.no_grad()\n"
    set_eval = "" if bug == "eval" else "    model.eval()\n"
    set_train = "" if bug == "train" else "    model.train()\n"
    scaler = "    scaler = torch.cuda.amp.GradScaler()\n" if amp else ""
    return f'''"""Train a classifier on {topic}."""

import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class {model_cls}(nn.Module):
    def __init__(self, in_features: int = 32, hidden: int = 128, classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default={w.rng.choice((5, 10, 90, 300))})
    parser.add_argument("--lr", type=float, default={w.rng.choice(("0.1", "3e-4", "1e-3"))})
    parser.add_argument("--batch-size", type=int, default={w.rng.choice((32, 64, 128, 256))})
    parser.add_argument("--accumulate", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return parser.parse_args()


def make_loaders(batch_size: int):
    x, y = torch.randn(1024, 32), torch.randint(0, 10, (1024,))
    train = TensorDataset(x[:896], y[:896])
    val = TensorDataset(x[896:], y[896:])
    return (
        DataLoader(train, batch_size=batch_size, shuffle=True),
        DataLoader(val, batch_size=batch_size),
    )


def train_one_epoch(model, loader, optimizer, scheduler, args, scaler=None) -> float:
{set_train}{before}    total = 0.0
    for step, (inputs, targets) in enumerate(loader):
        inputs, targets = inputs.to(args.device), targets.to(args.device)
{clear}        loss = F.cross_entropy(model(inputs), targets)
{update}        scheduler.step()
        total += loss.item()
    return total / max(1, len(loader))


{no_grad}def evaluate(model, val_loader, args) -> float:
{set_eval}    correct = 0
    seen = 0
    for inputs, targets in val_loader:
        inputs, targets = inputs.to(args.device), targets.to(args.device)
        predictions = model(inputs).argmax(dim=-1)
        correct += (predictions == targets).sum().item()
        seen += targets.numel()
    return correct / max(1, seen)


def main() -> None:
    args = parse_args()
    model = {model_cls}().to(args.device)
    optimizer = torch.optim.{opt}(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)
{scaler}    train_loader, val_loader = make_loaders(args.batch_size)
    best = 0.0
    for epoch in range(args.epochs):
        start = time.time()
        loss = train_one_epoch(
            model, train_loader, optimizer, scheduler, args{", scaler" if amp else ""}
        )
        accuracy = evaluate(model, val_loader, args)
        best = max(best, accuracy)
        seconds = time.time() - start
        print(f"epoch {{epoch}} loss {{loss:.4f}} acc {{accuracy:.3f}} ({{seconds:.1f}}s)")
    torch.save(model.state_dict(), "model.pt")


if __name__ == "__main__":
    main()
'''


def evaluate_file(w: Writer) -> str:
    return f'''"""Evaluate a saved checkpoint on the {w.pick(TOPICS)} test split."""

import argparse

import torch
from torch.utils.data import DataLoader


def load_model(path: str, device: str) -> torch.nn.Module:
    model = torch.jit.load(path, map_location=device)
    model.eval()
    return model


@torch.inference_mode()
def run_inference(model, test_loader, device: str):
    outputs, labels = [], []
    for inputs, targets in test_loader:
        outputs.append(model(inputs.to(device)).cpu())
        labels.append(targets)
    return torch.cat(outputs), torch.cat(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("checkpoint")
    parser.add_argument("--batch-size", type=int, default={w.rng.choice((64, 128, 256))})
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    data = torch.load("test.pt")
    test_loader = DataLoader(data, batch_size=args.batch_size)
    logits, labels = run_inference(load_model(args.checkpoint, device), test_loader, device)
    print("accuracy", (logits.argmax(-1) == labels).float().mean().item())


if __name__ == "__main__":
    main()
'''


# Tests and configuration ------------------------------------------------------------------------
def test_file(w: Writer) -> str:
    shapes = w.rng.choice(((2, 3, 32, 32), (4, 3, 64, 64), (8, 3, 16, 16)))
    return f'''"""Unit tests of the model zoo."""

import pytest
import torch
import torch.nn as nn


@pytest.fixture
def batch() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn{shapes}


def test_output_shape(batch: torch.Tensor) -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    assert model(batch).shape == (batch.shape[0], 8)


def test_gradients_reach_every_parameter(batch: torch.Tensor) -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    model(batch).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("channels", [1, 4, 16])
def test_parameter_count(channels: int) -> None:
    layer = nn.Conv2d(channels, channels, 1)
    assert sum(p.numel() for p in layer.parameters()) == channels * channels + channels
'''


def config_file(w: Writer) -> str:
    return f'''"""Default settings."""

from dataclasses import dataclass, field


@dataclass
class Settings:
    data_root: str = "data/{w.pick(TOPICS)}"
    epochs: int = {w.rng.choice((10, 90, 300))}
    batch_size: int = {w.rng.choice((64, 128, 256))}
    lr: float = {w.rng.choice(("0.1", "3e-4", "1e-3"))}
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    mixed_precision: bool = {w.rng.choice(("True", "False"))}
    tags: list = field(default_factory=list)
'''


BUGS = ("zero_grad", "step", "no_grad", "eval", "train")


def large_train_file(seed: int = 0) -> str:
    """One training script with everything in it, as research code often is: models, data,
    helpers, then the training and evaluation loops (about 20 kB, where `train_file` writes 3)."""
    w = Writer(random.Random(f"large:{seed}"))
    while True:
        models = model_file(w)
        if len(models) > 8_000:
            break
    parts = [models, data_file(w), *(block(w) for block in UTIL_BLOCKS), train_file(w, None)]
    return "\n".join(parts)


def generate(root: Path, count: int, seed: int = 0) -> list[Path]:
    """Write `count` files under `root` (which should be empty) and return their paths."""
    rng = random.Random(f"{seed}:{count}")
    kinds = [kind for kind, share in MIX for _ in range(round(share * count))]
    while len(kinds) < count:
        kinds.append("util")
    kinds = kinds[:count]
    rng.shuffle(kinds)
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "{PACKAGE}"\nversion = "0.0.0"\n', encoding="utf-8"
    )
    written: list[Path] = []
    for number, kind in enumerate(kinds):
        w = Writer(rng)
        folder = number // 200  # about 200 files a folder, as in a large repository
        if kind == "train":
            bug = rng.choice(BUGS) if rng.random() < 0.25 else None
            path, text = root / "scripts" / f"train_{number}.py", train_file(w, bug)
        elif kind == "evaluate":
            path, text = root / "scripts" / f"evaluate_{number}.py", evaluate_file(w)
        elif kind == "test":
            path, text = root / "tests" / f"test_{kind}_{number}.py", test_file(w)
        else:
            make = {"model": model_file, "data": data_file, "util": util_file}.get(kind)
            text = make(w) if make is not None else config_file(w)
            sub = {"model": "models", "data": "data", "util": "utils"}.get(kind, "configs")
            path = root / "src" / PACKAGE / sub / f"part{folder}" / f"{kind}_{number}.py"
        compile(text, str(path), "exec")  # every file is valid Python
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written  # no __init__.py files: the package folders are namespace packages


if __name__ == "__main__":
    files = generate(Path(sys.argv[1]), int(sys.argv[2]))
    print(f"{len(files)} files in {sys.argv[1]}")
