from __future__ import annotations

from pathlib import Path

import polars as pl
from eval.manifest import in_scope
from eval.understanding import Understanding, shape

from vigil.schema.fields import F

SSHD_CHECK = "sshd message has an event.action"
PACKET_CHECK = "kernel packet log has source.ip"


def _sink(tmp_path: Path) -> Understanding:
    return Understanding(in_scope("d", tmp_path / "a.log", "a.log", "k", "sshd"))


def test_sshd_events_without_an_action_are_counted_by_shape(tmp_path: Path) -> None:
    """sshd events lacking event.action are missed; their messages group by shape."""
    sink = _sink(tmp_path)
    sink.consume(
        pl.DataFrame(
            {
                F.PROCESS_NAME: ["sshd", "sshd", "sshd", "CRON"],
                F.EVENT_ACTION: ["ssh_login", None, None, None],
                F.SOURCE_IP: ["203.0.113.7", None, None, None],
                F.MESSAGE: [
                    "Failed password for root from 203.0.113.7 port 22 ssh2",
                    "debug1: channel 5: connection failed",
                    "debug1: channel 12: connection failed",
                    "pam_unix(cron:session): session opened for user root",
                ],
                F.LOG_FILE_LINE: pl.Series([1, 2, 3, 4], dtype=pl.UInt64),
            }
        )
    )
    tally = sink.tallies[SSHD_CHECK]
    assert (tally.events, tally.missed) == (3, 2)
    assert dict(tally.shapes) == {"debugN: channel N: connection failed": 2}
    assert tally.first["debugN: channel N: connection failed"] == (
        2,
        "debug1: channel 5: connection failed",
    )
    assert PACKET_CHECK not in sink.tallies


def test_a_batch_without_the_checked_columns_is_skipped_or_all_missed(tmp_path: Path) -> None:
    """No process.name: the sshd check does not apply; no source.ip: packet lines all miss."""
    sink = _sink(tmp_path)
    sink.consume(
        pl.DataFrame(
            {
                F.MESSAGE: ["IN=eth0 OUT= SRC=203.0.113.7 DST=198.51.100.1 LEN=60 PROTO=TCP"],
                F.LOG_FILE_LINE: pl.Series([7], dtype=pl.UInt64),
            }
        )
    )
    assert SSHD_CHECK not in sink.tallies
    assert (sink.tallies[PACKET_CHECK].events, sink.tallies[PACKET_CHECK].missed) == (1, 1)


def test_shape_masks_addresses_and_numbers() -> None:
    """IPv4, IPv6, numbers and user names are masked so one message kind is one shape."""
    frame = pl.DataFrame({"m": ["invalid user bob from 192.0.2.1 port 51515 via 2001:db8::1"]})
    assert frame.select(shape(pl.col("m"))).item() == "invalid user U from IP port N via IP"
