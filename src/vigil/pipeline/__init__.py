"""One pipeline for every mode: inputs → parsers → batch sinks (stats, store, detectors)."""

from vigil.pipeline.analyze import AnalyzeOptions, analyze
from vigil.pipeline.report import AnalysisReport, FileReport

__all__ = ["AnalysisReport", "AnalyzeOptions", "FileReport", "analyze"]
