"""lint-train: finds the mistakes that silently ruin PyTorch training runs."""

__version__ = "0.1.0"
