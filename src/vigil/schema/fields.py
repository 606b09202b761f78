"""ECS field names: the one place they are spelled.

A Batch is a polars DataFrame whose columns are these dotted names. Fields that ECS
does not define and vigil needs are marked as vigil extensions.
"""

from __future__ import annotations

import polars as pl


class F:
    """Field name constants (use these, never string literals, in vigil's code)."""

    TIMESTAMP = "@timestamp"
    MESSAGE = "message"
    TAGS = "tags"

    EVENT_DATASET = "event.dataset"
    EVENT_ACTION = "event.action"
    EVENT_OUTCOME = "event.outcome"
    EVENT_CATEGORY = "event.category"
    EVENT_REASON = "event.reason"
    # vigil extension: how many occurrences one row stands for; rsyslog's
    # "message repeated N times" is one row with event.count = N.
    EVENT_COUNT = "event.count"

    HOST_NAME = "host.name"
    PROCESS_NAME = "process.name"
    PROCESS_PID = "process.pid"
    LOG_LEVEL = "log.level"
    LOG_SYSLOG_FACILITY = "log.syslog.facility.code"
    LOG_SYSLOG_SEVERITY = "log.syslog.severity.code"
    LOG_SYSLOG_PRIORITY = "log.syslog.priority"
    LOG_SYSLOG_VERSION = "log.syslog.version"
    LOG_SYSLOG_MSGID = "log.syslog.msgid"
    LOG_SYSLOG_APPNAME = "log.syslog.appname"
    LOG_SYSLOG_STRUCTURED_DATA = "log.syslog.structured_data"

    LOG_FILE_PATH = "log.file.path"
    # vigil extension: 1-based line number of the event in its file.
    LOG_FILE_LINE = "log.file.line"

    USER_NAME = "user.name"
    USER_TARGET_NAME = "user.target.name"
    USER_EFFECTIVE_NAME = "user.effective.name"

    SOURCE_IP = "source.ip"
    SOURCE_PORT = "source.port"
    SOURCE_MAC = "source.mac"
    DESTINATION_IP = "destination.ip"
    DESTINATION_PORT = "destination.port"
    NETWORK_TRANSPORT = "network.transport"
    NETWORK_PROTOCOL = "network.protocol"
    NETWORK_BYTES = "network.bytes"
    OBSERVER_INGRESS_INTERFACE = "observer.ingress.interface.name"
    OBSERVER_EGRESS_INTERFACE = "observer.egress.interface.name"
    RULE_NAME = "rule.name"

    URL_ORIGINAL = "url.original"
    URL_PATH = "url.path"
    URL_QUERY = "url.query"
    URL_DOMAIN = "url.domain"
    HTTP_REQUEST_METHOD = "http.request.method"
    HTTP_REQUEST_REFERRER = "http.request.referrer"
    HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
    HTTP_RESPONSE_BODY_BYTES = "http.response.body.bytes"
    HTTP_VERSION = "http.version"
    USER_AGENT_ORIGINAL = "user_agent.original"


TIMESTAMP_DTYPE = pl.Datetime("us", "UTC")

# Known fields with a dtype other than String. Every other field is a String.
DTYPES: dict[str, pl.DataType] = {
    F.TIMESTAMP: TIMESTAMP_DTYPE,
    F.EVENT_COUNT: pl.UInt32(),
    F.PROCESS_PID: pl.Int64(),
    F.SOURCE_PORT: pl.Int32(),
    F.DESTINATION_PORT: pl.Int32(),
    F.HTTP_RESPONSE_STATUS_CODE: pl.Int32(),
    F.HTTP_RESPONSE_BODY_BYTES: pl.Int64(),
    F.NETWORK_BYTES: pl.Int64(),
    F.LOG_FILE_LINE: pl.UInt64(),
    F.LOG_SYSLOG_FACILITY: pl.Int32(),
    F.LOG_SYSLOG_SEVERITY: pl.Int32(),
    F.LOG_SYSLOG_PRIORITY: pl.Int32(),
    F.LOG_SYSLOG_VERSION: pl.Int32(),
}

# Columns every Batch has, in this order, even when a parser leaves them null.
CORE_FIELDS: tuple[str, ...] = (
    F.TIMESTAMP,
    F.EVENT_DATASET,
    F.EVENT_ACTION,
    F.EVENT_OUTCOME,
    F.EVENT_COUNT,
    F.HOST_NAME,
    F.SOURCE_IP,
    F.USER_NAME,
    F.MESSAGE,
    F.LOG_FILE_PATH,
    F.LOG_FILE_LINE,
)


def dtype_of(field: str) -> pl.DataType:
    return DTYPES.get(field, pl.String())
