"""What names in a file refer to: dotted text of expressions and imports resolved to full names."""

from __future__ import annotations

import libcst as cst

from . import knowledge as kn


def dotted(node: cst.BaseExpression) -> str | None:
    """`self.model.encoder` -> "self.model.encoder"; None for anything that is not a plain chain."""
    # Class identity, not isinstance: libcst's node classes are final, and isinstance against
    # them goes through ABCMeta's Python-level check (this runs for most nodes of a file).
    if node.__class__ is _NAME:
        return node.value  # type: ignore[attr-defined]
    parts: list[str] = []
    while node.__class__ is _ATTRIBUTE:
        parts.append(node.attr.value)  # type: ignore[attr-defined]
        node = node.value  # type: ignore[attr-defined]
    if node.__class__ is _NAME:
        parts.append(node.value)  # type: ignore[attr-defined]
        return ".".join(reversed(parts))
    return None


_NAME, _ATTRIBUTE = cst.Name, cst.Attribute


def target_names(target: cst.BaseExpression) -> list[str]:
    """The names an assignment target binds, as `dotted` writes them (`a, (self.b, *c)` ->
    `a`, `self.b`, `c`); subscripts and other targets bind no name."""
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for e in target.elements for n in target_names(e.value)]
    if isinstance(target, cst.StarredElement):
        return target_names(target.value)
    name = dotted(target)
    return [name] if name is not None else []


def unmoved(expr: cst.BaseExpression) -> cst.BaseExpression:
    """`model.to(device).cuda()` -> `model`: moving a model keeps the same object."""
    while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
        effect = kn.method("any", expr.func.attr.value)
        if effect is None or not effect.same_object:
            break
        expr = expr.func.value
    return expr


class ImportTable:
    """Maps local names to the full names they were imported as (`T` -> `torch`)."""

    def __init__(self) -> None:
        self._aliases: dict[str, str] = {}
        self.stars: list[str] = []  # modules imported with `*`, as written (`.layers`, `..`)

    def add(self, node: cst.Import | cst.ImportFrom) -> None:
        if isinstance(node, cst.Import):
            for alias in node.names:
                full = _name_text(alias.name)
                if alias.asname is not None:
                    local = _name_text(alias.asname.name)
                    self._aliases[local] = full
                else:
                    head = full.split(".")[0]
                    self._aliases.setdefault(head, head)
            return
        # `from ..models import unwrap` is the package's own code: `..models.unwrap`, known as
        # imported (not a local model) though no library name matches it.
        dots = "." * len(node.relative)
        module = dots + (_name_text(node.module) if node.module is not None else "")
        if isinstance(node.names, cst.ImportStar):
            self.stars.append(module)
            return
        for alias in node.names:
            name = _name_text(alias.name)
            local = _name_text(alias.asname.name) if alias.asname is not None else name
            self._aliases[local] = f"{module}{name}" if module.endswith(".") else f"{module}.{name}"

    def aliases(self) -> dict[str, str]:
        """Every local name bound by an import, with the full name it stands for."""
        return dict(self._aliases)

    def is_imported(self, name: str) -> bool:
        return name in self._aliases

    def local_name(self, full: str) -> str | None:
        """A local name bound to exactly `full` (`T` after `import torch as T`), if any."""
        names = sorted(local for local, target in self._aliases.items() if target == full)
        return names[0] if names else None

    def qualify(self, text: str | None) -> str | None:
        """Full name of a dotted text, through the imports; unknown heads are kept as written."""
        if text is None:
            return None
        head, _, rest = text.partition(".")
        full = self._aliases.get(head)
        if full is None:
            return text
        return f"{full}.{rest}" if rest else full


def _name_text(node: cst.BaseExpression) -> str:
    text = dotted(node)
    return text if text is not None else ""
