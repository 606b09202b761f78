"""Evaluations of vigil over public labelled datasets (`make eval`, `python -m eval`)."""
