"""The codec's name for the shared lxml import (``adapters.xml._lxml``), kept for the modules that still import it
from here."""

from adapters.xml._lxml import Element, etree

__all__ = ["Element", "etree"]
