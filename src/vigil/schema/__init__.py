"""The event schema: ECS field names and their polars dtypes."""

from vigil.schema.batch import conform
from vigil.schema.fields import DTYPES, F

__all__ = ["DTYPES", "F", "conform"]
