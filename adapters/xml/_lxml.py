"""The XML codecs' one import of lxml (they parse inbound documents and validate them against their schemas).

lxml ships no type information and ``lxml-stubs`` is not among the project's dev dependencies, so mypy sees
``etree`` as ``Any``; this module is the single place that says so. ``Element`` names lxml's element type in
annotations.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from lxml import etree  # type: ignore[import-untyped]

Element: TypeAlias = Any  # lxml.etree._Element (untyped)

__all__ = ["Element", "etree"]
