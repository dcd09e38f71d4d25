"""Hostile XML for the XML codecs' tests (SCRIPT and PMIX), built for each protocol from a minimal document of its
own, and what every refusal must be: a ``PmpError`` with a place and no echo of the document."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from protos.errors import PmpError

SECRET = "SAMUELS"  # the patient of both codecs' sample messages: a refusal must never quote the surname


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True, slots=True)
class Shape:
    """A minimal document of the protocol: its root element's name, start and end, and an element that holds text."""

    root: str
    start: bytes
    end: bytes
    text_start: bytes
    text_end: bytes

    def bare(self) -> bytes:
        return self.start + self.end

    def with_text(self, text: bytes) -> bytes:
        return self.start + self.text_start + text + self.text_end + self.end


def dtd_bodies(shape: Shape) -> list[bytes]:
    """XXE (a local file; a parameter entity and an external DTD over the network), billion laughs, and an internal
    DTD without any entity."""
    laughs = b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode() for i in range(1, 10)
    )
    root = shape.root.encode()
    return [
        b'<?xml version="1.0"?><!DOCTYPE '
        + root
        + b' [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + shape.with_text(b"&xxe;"),
        b"<!DOCTYPE " + root + b' [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>' + shape.bare(),
        b"<!DOCTYPE " + root + b' SYSTEM "http://127.0.0.1:9/' + root + b'.dtd">' + shape.bare(),
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' + laughs + b"]>" + shape.with_text(b"&lol9;"),
        b"<!DOCTYPE " + root + b" []>" + shape.bare(),
    ]


def nested(depth: int) -> bytes:
    return b"<a>" * depth + b"</a>" * depth


def not_xml_bodies(shape: Shape, sample: bytes) -> list[tuple[bytes, str]]:
    """Bodies that are not one well-formed document, each with the words its refusal must have."""
    return [
        (b"", "empty"),
        (b"  \n ", "empty"),
        (f"{SECRET} 1989-03-12".encode(), "not well-formed"),
        (b'{"resourceType": "Parameters"}', "not well-formed"),
        (sample[:-40], "not well-formed"),
        (shape.with_text(b"&undefined;"), "not well-formed"),
        (shape.with_text(b"\x01"), "not well-formed"),
        (shape.with_text(b"1") + b"<second/>", "not well-formed"),
    ]


def not_utf8_bodies(sample: bytes) -> list[bytes]:
    """``sample`` (a UTF-8 document with ``encoding="UTF-8"`` and the surname ``SECRET``) in broken UTF-8 and in
    other encodings."""
    name = SECRET.encode()
    text = sample.decode()
    return [
        sample.replace(name, b"SAMU\xffELS"),
        sample.replace(name, b"SAMU\xc3\x28ELS"),
        sample.replace(name, b"SAMU\xed\xa0\x80ELS"),  # an encoded surrogate
        sample.replace(name, b"SAMU\xf8\x88\x80\x80\x80ELS"),  # a 5-byte sequence
        sample.replace(b'encoding="UTF-8"', b'encoding="UTF-16"'),
        sample.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"'),
        text.encode("utf-16"),
        text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16-le"),
        text.encode("utf-32"),
    ]


def refusal_of(call: Callable[[], object]) -> PmpError | None:
    """The ``PmpError`` that ``call`` raises, None when it returns; any other exception fails the test."""
    try:
        call()
    except PmpError as error:
        return error
    return None


def refused(call: Callable[[], object], code: int) -> PmpError:
    """The refusal ``call`` raises: ``code``, at XPath-like places, not quoting the document or libxml2."""
    error = refusal_of(call)
    assert error is not None, "not refused"
    assert error.code == code, error
    assert error.location and all(isinstance(where, str) and where.startswith("/") for where in error.location)
    assert SECRET not in error.detail and "root:" not in error.detail
    return error


@dataclass(frozen=True, slots=True)
class Splice:
    """``insert`` in place of ``cut`` bytes at ``at`` (within the body)."""

    at: int
    cut: int
    insert: bytes

    def __call__(self, body: bytes) -> bytes:
        at = min(self.at, len(body))
        return body[:at] + self.insert + body[at + self.cut :]


def splices(markup: str, reach: int) -> st.SearchStrategy[Splice]:
    """Cuts and insertions in the first ``reach`` bytes of a body: random bytes, or text of the ``markup``
    characters."""
    return st.builds(
        Splice,
        st.integers(min_value=0, max_value=reach),
        st.integers(min_value=0, max_value=40),
        st.binary(max_size=40) | st.text(alphabet=markup, max_size=40).map(str.encode),
    )


def texts(samples: list[str]) -> st.SearchStrategy[str]:
    """Any short text, or one of the protocol's typical values."""
    return st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12) | st.sampled_from(samples)


def _xml_text(value: str) -> str:
    return (
        "".join(c for c in value if c in "\t\n\r" or " " <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd")
        .replace("&", "&amp;")
        .replace("<", "&lt;")
    )


def elements(names: list[str], text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Well-formed trees of the protocol's element ``names``, in any order and nesting, with ``text`` in the
    leaves."""
    return st.recursive(
        st.builds(lambda n, t: f"<{n}>{_xml_text(t)}</{n}>", st.sampled_from(names), text),
        lambda inner: st.builds(
            lambda n, kids: f"<{n}>{''.join(kids)}</{n}>", st.sampled_from(names), st.lists(inner, max_size=4)
        ),
        max_leaves=25,
    )
