"""The runtime half of lint-train: run a training script and watch what it really does.

Nothing here is imported by the plain `lint-train PATH` path, and torch is imported only
inside the functions that need it, so the linter works without torch installed.
"""
