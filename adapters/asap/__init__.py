"""ASAP 4.2 pharmacy reporting files: reader and writer.

``model`` holds the segment values, ``reader`` streams a file into validated records and errors,
``writer`` turns an :class:`~adapters.asap.model.AsapFile` back into text. Pure codecs: no I/O
beyond the stream they are given.
"""

from adapters.asap.reader import AsapReader, read_asap
from adapters.asap.writer import AsapWriteError, format_asap, write_asap

__all__ = ["AsapReader", "AsapWriteError", "format_asap", "read_asap", "write_asap"]
