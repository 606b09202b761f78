"""How the state database writes times: UTC ISO 8601 with microseconds, one fixed width,
so that comparing the text compares the times."""

from __future__ import annotations

from datetime import UTC, datetime


def stamp(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise ValueError("the state database stores timezone-aware times only")
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def stamp_or_none(ts: datetime | None) -> str | None:
    return None if ts is None else stamp(ts)


def parse_stamp(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
