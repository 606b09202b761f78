"""Where lines come from: files, directories, globs, compressed files and stdin."""

from vigil.sources.files import Chunk, LineReader, expand_inputs

__all__ = ["Chunk", "LineReader", "expand_inputs"]
