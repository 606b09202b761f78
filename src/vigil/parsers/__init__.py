"""Log formats: one module per format, registered in `registry.PARSERS`."""

from vigil.parsers.base import LineParser, ParseContext, ParseResult
from vigil.parsers.registry import PARSERS, get_parser

__all__ = ["PARSERS", "LineParser", "ParseContext", "ParseResult", "get_parser"]
