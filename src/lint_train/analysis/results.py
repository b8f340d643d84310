"""What a function hands back, followed into the names its caller binds it to.

Inside a function, what `return x` (or `return a, b`) hands back is named by result slots:
`<result>` for one value, `<result>0`, `<result>1`, ... for the items of a returned tuple. A
return copies the modes of what it returns into the slots (`seg.eval(); return seg, cls`),
and a constructor returned directly (`return Predictor(net)`) builds its object in the slot.
A caller that binds the result (`runner = build(net)`, `self.a, self.b = self.load()`)
renames the slots to its own names, as it renames parameters to its arguments; a caller that
does not leaves them local to the function, forgotten when it returns.
"""

from __future__ import annotations

import libcst as cst

from .names import dotted

RESULT = "<result>"


def slot(position: int | None) -> str:
    """The slot of the whole result (None) or of the item `position` of a returned tuple."""
    return RESULT if position is None else f"{RESULT}{position}"


def is_slot(name: str) -> bool:
    return name.startswith(RESULT)


def bound(target: cst.BaseExpression) -> list[tuple[str, str]]:
    """The slots a caller's assignment target binds, with its names for them: `x = f()` binds
    the whole result to `x`; `a, self.b = f()` binds the items by position. Nothing for a
    starred or nested target (what lands where is more than this follows)."""
    if isinstance(target, (cst.Tuple, cst.List)):
        out = []
        for position, element in enumerate(target.elements):
            name = dotted(element.value)
            if isinstance(element, cst.StarredElement) or name is None:
                return []
            out.append((slot(position), name))
        return out
    name = dotted(target)
    return [(RESULT, name)] if name is not None else []


def returned(value: cst.BaseExpression) -> list[tuple[str, str]]:
    """The slots a `return` fills from names, with those names: `return model` fills the
    whole result; `return a, b` the items (an item that is not a name fills nothing)."""
    if isinstance(value, cst.Tuple):
        return [
            (slot(position), name)
            for position, element in enumerate(value.elements)
            if not isinstance(element, cst.StarredElement)
            and (name := dotted(element.value)) is not None
            and name not in ("None", "True", "False")
        ]
    name = dotted(value)
    if name is None or name in ("None", "True", "False"):
        return []
    return [(RESULT, name)]
