"""Message templates: built-ins per format, overrides, escaping of hostile alert fields,
and the sandbox that keeps a template from reaching into Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.notify.factories import block, flood, scan
from vigil.config.notify import TemplateOverride
from vigil.notify.message import alert_item, message_context
from vigil.notify.templates import MessageTemplate

HOSTILE = {"source.ip": "<script>alert(1)</script>", "user.name": "a`b``c"}


def _context(*alerts: object, digest: bool = False) -> dict[str, object]:
    items = [alert_item(a) for a in alerts]  # type: ignore[arg-type]
    return message_context(items, channel="ops", digest=digest)


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_builtin_default_in_every_format(fmt: str) -> None:
    """The default template says rule, entity, count and action in each format."""
    alert = flood()
    item = alert_item(alert, [block(alert)])
    subject, body = MessageTemplate("default", fmt).render(  # type: ignore[arg-type]
        message_context([item], channel="ops", digest=False)
    )
    assert subject.startswith("[vigil] high firewall_connection_flood: source.ip=203.0.113.7")
    for expected in ("firewall_connection_flood", "203.0.113.7", "120 events", "nftables"):
        assert expected in body


def test_html_escapes_alert_fields_but_not_the_subject() -> None:
    """In HTML, log text is escaped in the body; the subject stays plain text."""
    alert = flood(entity=HOSTILE)
    subject, body = MessageTemplate("default", "html").render(_context(alert))
    assert "<script>" not in body and "&lt;script&gt;" in body
    assert "source.ip=<script>alert(1)</script>" in subject


def test_newline_in_a_field_cannot_forge_a_line() -> None:
    """A newline inside an entity value is shown as an escape, on the alert's own line."""
    alert = flood(entity={"user.name": "bob\nactions:    none"})
    _, body = MessageTemplate("default", "text").render(_context(alert))
    assert "entity:     user.name=bob\\nactions:    none" in body
    assert not any(line.startswith("actions:") for line in body.splitlines())


def test_markdown_code_survives_backticks() -> None:
    """Backticks in a value cannot close the Markdown code span around it."""
    _, body = MessageTemplate("default", "markdown").render(_context(flood(entity=HOSTILE)))
    assert "```source.ip=<script>alert(1)</script>, user.name=a`b``c```" in body


def test_digest_subject_counts_rules() -> None:
    """A digest's subject has the number of alerts and the count per rule, most first."""
    subject, _ = MessageTemplate("default", "text").render(
        _context(scan(), flood(), flood("203.0.113.9"), digest=True)
    )
    assert subject == "[vigil] 3 alerts: 2 firewall_connection_flood, 1 port_scan"


def test_override_keeps_the_other_part() -> None:
    """An inline subject override leaves the built-in body in place."""
    spec = TemplateOverride(subject="{{ alerts|length }} x {{ alerts[0].rule_name }}")
    subject, body = MessageTemplate(spec, "text").render(_context(scan()))
    assert subject == "1 x port_scan"
    assert "MEDIUM  port_scan: Port scan" in body


def test_subject_is_one_short_line() -> None:
    """Whitespace and newlines in a subject fold to single spaces; long ones are cut."""
    spec = TemplateOverride(subject="a\n\n  b {{ 'x' * 500 }}")
    subject, _ = MessageTemplate(spec, "text").render(_context(scan()))
    assert subject.startswith("a b xxx") and len(subject) == 200 and "\n" not in subject


def test_template_file_blocks(tmp_path: Path) -> None:
    """A template file's blocks replace the built-in parts it defines."""
    path = tmp_path / "t.j2"
    path.write_text("{% block body %}Hello {{ alerts[0].entity|entity }}{% endblock %}")
    subject, body = MessageTemplate(str(path), "text").render(_context(scan()))
    assert body == "Hello source.ip=198.51.100.23\n"
    assert subject.startswith("[vigil] medium port_scan")


@pytest.mark.parametrize(
    "source",
    ["{{ ''.__class__.__mro__ }}", "{{ alerts.append(1) }}", "{{ alerts.__len__() }}"],
)
def test_sandbox_refuses_python_internals(source: str) -> None:
    """A template cannot reach Python internals or change what it is given."""
    template = MessageTemplate(TemplateOverride(body=source), "text")
    with pytest.raises(ValueError, match=r"the body template failed: .* is unsafe"):
        template.render(_context(scan()))
