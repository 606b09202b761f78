"""Logsource routing (which rows a rule sees) and Sigma field names → vigil columns."""

from __future__ import annotations

import polars as pl
import pytest

from tests.detect.sigma_util import compiled, hits
from vigil.detect.sigma.mapping import LOGSOURCES, column, find_logsource, is_ecs_name
from vigil.parsers.netfilter_messages import NETFILTER_KIND
from vigil.parsers.pf_messages import PF_KIND
from vigil.parsers.syslog_family import KINDS
from vigil.parsers.syslog_fields import SF

# One row per kind of event vigil's parsers produce.
ROWS = pl.DataFrame(
    {
        "event.dataset": [
            "apache",  # 0 access log
            "nginx",  # 1
            "firewall",  # 2 seed pipe format
            "sshd",  # 3 auth.log line from sshd
            "sshd",  # 4 auth.log line from sudo (same file, same parser)
            "syslog",  # 5 /var/log/syslog line from CRON
            "syslog",  # 6 kernel packet log inside /var/log/syslog
            "netfilter",  # 7 kern.log read by the netfilter parser
            "syslog",  # 8 plain daemon line, facility authpriv
            "jsonl",  # 9
            None,  # 10 no dataset
            "sshd",  # 11 sshd connection message ("Did not receive identification string")
            "syslog",  # 12 pf filterlog line inside /var/log/syslog
        ],
        "process.name": [
            None, None, None, "sshd", "sudo", "CRON", "kernel", "kernel", "pam_tool", None, None,
            "sshd", "filterlog",
        ],
        "event.category": [
            "web", "web", "network", None, None, None, "network", "network", None, None, None,
            "network", "network",
        ],
        "event.type": [
            None, None, None, None, None, None, "denied", "allowed", None, None, None,
            None, "info",
        ],
        "log.syslog.facility.code": [None, None, None, 4, 10, 9, 0, 0, 10, None, None, 4, 1],
    },
    schema_overrides={"log.syslog.facility.code": pl.Int32},
)  # fmt: skip


def _rows(product: str | None, category: str | None, service: str | None) -> list[int]:
    logsource = find_logsource(product, category, service)
    assert logsource is not None
    mask = ROWS.select(logsource.filter(ROWS.schema)).to_series().to_list()
    return [i for i, keep in enumerate(mask) if keep]


@pytest.mark.parametrize(
    ("key", "rows"),
    [
        ((None, "webserver", None), [0, 1]),
        ((None, None, "apache"), [0, 1]),
        ((None, None, "nginx"), [0, 1]),
        ((None, "firewall", None), [2, 6, 7, 12]),
        (("linux", None, None), [3, 4, 5, 6, 7, 8, 11, 12]),
        (("linux", None, "syslog"), [3, 4, 5, 6, 7, 8, 11, 12]),
        (("linux", None, "sshd"), [3, 11]),
        (("linux", None, "auth"), [3, 4, 8, 11]),
        (("linux", None, "cron"), [5]),
        (("vigil", None, "jsonl"), [9]),
        (("vigil", None, "firewall"), [2]),
    ],
)
def test_logsource_routing(key: tuple[str | None, str | None, str | None], rows: list[int]) -> None:
    """Each logsource sees exactly the rows of the parsers and programs it stands for."""
    assert _rows(*key) == rows


KEYS = [(None, "webserver", None), (None, "firewall", None), ("linux", None, "auth")]


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("dataset", ["apache", "firewall", "sshd", "syslog", "netfilter", "jsonl"])
def test_a_batch_of_one_dataset_is_routed_the_same_when_known(
    key: tuple[str | None, str | None, str | None], dataset: str
) -> None:
    """Knowing the batch's only dataset decides its tests once, with the same rows, and a
    logsource that excludes it selects none."""
    logsource = find_logsource(*key)
    assert logsource is not None
    frame = ROWS.filter(pl.col("event.dataset").is_not_null()).with_columns(
        pl.lit(dataset).alias("event.dataset")
    )
    row_by_row = frame.select(logsource.filter(frame.schema)).to_series().to_list()
    # with_columns: a test decided for the whole batch is a literal, spread over the rows
    decided = frame.with_columns(
        logsource.filter(frame.schema, frozenset({dataset})).alias("known")
    ).get_column("known")
    assert decided.to_list() == row_by_row
    assert not (logsource.excludes(frozenset({dataset})) and any(row_by_row))


def test_excludes_only_what_cannot_match() -> None:
    """A web batch excludes the sshd logsource; a syslog batch may hold sshd lines; an
    unknown set of datasets excludes nothing."""
    sshd = find_logsource("linux", None, "sshd")
    assert sshd is not None
    assert sshd.excludes(frozenset({"apache"}))
    assert not sshd.excludes(frozenset({"apache", "syslog"}))
    assert not sshd.excludes(None)


def test_logsource_lookup_ignores_case_and_rejects_unknown() -> None:
    """Lookup is case-insensitive; a triple not in the table is unknown."""
    assert find_logsource("Linux", None, "SSHD") is LOGSOURCES[("linux", None, "sshd")]
    assert find_logsource("windows", "process_creation", None) is None
    assert find_logsource("linux", "process_creation", None) is None


def test_filter_tolerates_missing_columns() -> None:
    """A batch without process.name or facility still routes by dataset."""
    frame = pl.DataFrame({"event.dataset": ["sshd", "apache"]})
    auth = find_logsource("linux", None, "auth")
    web = find_logsource(None, "webserver", None)
    assert auth is not None and web is not None
    assert frame.select(auth.filter(frame.schema)).to_series().to_list() == [False, False]
    assert frame.select(web.filter(frame.schema)).to_series().to_list() == [False, True]


@pytest.mark.parametrize(
    ("sigma", "ecs"),
    [
        ("cs-uri-query", "url.original"),
        ("cs-uri-stem", "url.path"),
        ("c-uri", "url.original"),
        ("cs-method", "http.request.method"),
        ("sc-status", "http.response.status_code"),
        ("c-useragent", "user_agent.original"),
        ("cs-user-agent", "user_agent.original"),
        ("c-ip", "source.ip"),
        ("clientip", "source.ip"),
        ("cs-referer", "http.request.referrer"),
    ],
)
def test_webserver_field_names(sigma: str, ecs: str) -> None:
    """Sigma's webserver taxonomy maps to ECS columns."""
    web = find_logsource(None, "webserver", None)
    assert web is not None
    assert web.field(sigma) == ecs


@pytest.mark.parametrize(
    ("sigma", "ecs"),
    [
        ("src_ip", "source.ip"),
        ("dst_ip", "destination.ip"),
        ("src_port", "source.port"),
        ("dst_port", "destination.port"),
        ("action", "event.action"),
    ],
)
def test_firewall_field_names(sigma: str, ecs: str) -> None:
    """Sigma's firewall taxonomy maps to ECS columns."""
    fw = find_logsource(None, "firewall", None)
    assert fw is not None
    assert fw.field(sigma) == ecs


def test_linux_user_fields() -> None:
    """`User` and `user` in linux rules are user.name; unknown names are None."""
    linux = find_logsource("linux", None, None)
    assert linux is not None
    assert (linux.field("User"), linux.field("user"), linux.field("Image")) == (
        "user.name",
        "user.name",
        None,
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("source.ip", True),
        ("event.type", True),
        ("message", True),
        ("cs-method", False),
        ("foo.bar", False),
    ],
)
def test_ecs_names(name: str, expected: bool) -> None:
    """ECS names (known constants or under an ECS field set) are recognised."""
    assert is_ecs_name(name) is expected


def test_firewall_blocked_is_derived_from_outcome() -> None:
    """A firewall rule's `blocked` field is computed from event.outcome."""
    frame = pl.DataFrame({"event.outcome": ["failure", "success", "unknown"]})
    rule = compiled({"sel": {"blocked": "false"}, "condition": "sel"}, {"category": "firewall"})
    assert hits(rule, frame) == [False, True, False]


def test_real_column_wins_over_derived() -> None:
    """When a batch has the derived field's column, its values are used."""
    frame = pl.DataFrame({"vigil.blocked": ["true"], "event.outcome": ["success"]})
    expr, dtype = column(frame.schema, "vigil.blocked")
    assert frame.select(expr).item() == "true"
    assert dtype == pl.String


def test_only_packet_log_kinds_set_event_type_in_the_syslog_family() -> None:
    """The firewall logsource tells packet logs from sshd's network messages by
    event.type: only the netfilter and pf kinds may set it."""
    typed = {name for name, kind in KINDS.kinds.items() if SF.EVENT_TYPE in kind.fields}
    assert typed == {NETFILTER_KIND.name, PF_KIND.name}
