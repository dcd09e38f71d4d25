"""Naming a place in a parsed document, for a refusal that says where, never what.

A place is the element names from the root down, with ``[n]`` where a name repeats among siblings. Each codec
names a step its own way (SCRIPT by local name, PMIX with the codec's prefixes) and chooses the steps its sentence
shows; a name from the document appears only when it looks like an element name (``*`` otherwise), since a hostile
name could carry anything. Places are built only when a refusal is raised.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from adapters.xml._lxml import Element
from adapters.xml.safe import refuse
from protos.errors import PmpError

_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")


def quotable(name: str) -> str:
    """``name`` when it looks like an element name, else ``*``."""
    return name if _NAME.fullmatch(name) else "*"


def steps_to(element: Element, name_of: Callable[[object], str], below: str = "") -> list[str]:
    """The steps from the root down to ``element`` (and to its missing child ``below``), each tag named by
    ``name_of``."""
    steps: list[str] = []
    node: Element | None = element
    while node is not None:
        name = name_of(node.tag)
        parent = node.getparent()
        if parent is not None and isinstance(node.tag, str):
            same = [sibling for sibling in parent if sibling.tag == node.tag]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        steps.append(name)
        node = parent
    steps.reverse()
    if below:
        steps.append(name_of(below))
    return steps


def path(steps: list[str]) -> str:
    """The absolute path of ``steps`` (a refusal's ``location``, for the sender's tooling)."""
    return "/" + "/".join(steps)


def refusal(steps: list[str], shown: list[str], problem: str) -> PmpError:
    """INVALID_REQUEST at the place ``steps``, saying ``<shown steps> <problem>``."""
    return refuse(path(steps), f"{'/'.join(shown)} {problem}")
