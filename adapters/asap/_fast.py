"""Fast construction of the frozen model dataclasses, for the reader's per-record path.

A frozen dataclass's ``__init__`` stores each field through ``object.__setattr__``: about 75 ns a
field, 1.9 µs for a 25-field DSP — most of the reader's budget. Here the same object is built by a
mutable twin dataclass (same slots, plain stores, ~5x faster) whose ``__post_init__`` turns it into
the model class by ``__class__`` assignment, which CPython allows between classes of identical slot
layout. The result is a genuine instance of the model class (frozen, equal, hashable as usual).
If that assignment is ever refused (the model's layout changed), the plain constructor is used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")


def fast_constructor(cls: type[T], *, skip_first: bool = False) -> Callable[..., T]:
    """A positional constructor for the slotted dataclass ``cls``, equivalent to ``cls(...)``.

    With ``skip_first`` the callable takes one extra leading argument and ignores it, so a whole
    split segment (its identifier first) can be passed as ``make(*parts)`` without slicing.
    """
    fields = dataclasses.fields(cast(Any, cls))
    specs: list[tuple[str, Any]] = [(f.name, f.type) for f in fields]
    if skip_first:
        specs.insert(0, ("segment_id_", dataclasses.InitVar[str]))

    def become_model(self: Any, *_ignored: object) -> None:
        self.__class__ = cls

    twin = dataclasses.make_dataclass(
        "_Fast" + cls.__name__,
        specs,
        namespace={"__post_init__": become_model},
        slots=True,
        eq=False,
        repr=False,
        match_args=False,
    )
    probe_args = [""] * len(specs)
    try:
        probe = twin(*probe_args)
    except TypeError:
        return _plain(cls, skip_first)
    if type(probe) is not cls:  # pragma: no cover - defensive
        return _plain(cls, skip_first)
    return cast(Callable[..., T], twin)


def _plain(cls: type[T], skip_first: bool) -> Callable[..., T]:
    """The ordinary constructor, with the same calling convention as the fast one."""
    if not skip_first:
        return cls

    def make(_segment_id: str, *args: Any) -> T:
        return cls(*args)

    return make
