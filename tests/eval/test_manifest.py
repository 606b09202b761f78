from __future__ import annotations

from pathlib import Path

import pytest
from eval.manifest import Input, Manifest, dedupe, elastic_examples, in_scope, loghub


def test_input_needs_exactly_one_of_expected_and_out_of_scope(tmp_path: Path) -> None:
    """An input is either in a format or out of scope, never both or neither."""
    with pytest.raises(ValueError, match="exactly one of expected / out_of_scope"):
        Input("d", tmp_path / "a.log", "a.log", "k", "sshd", "no parser")
    with pytest.raises(ValueError, match="exactly one of expected / out_of_scope"):
        Input("d", tmp_path / "a.log", "a.log", "k", None, None)


def test_origin_of_names_label_and_line_or_the_recorded_origin(tmp_path: Path) -> None:
    """Lines are located as label:line unless the harness recorded where each came from."""
    plain = in_scope("d", tmp_path / "a.log", "t/a.log", "k", "sshd")
    assert plain.origin_of(3) == "t/a.log:3"
    assembled = Input("d", tmp_path / "b.log", "b", "k", "sshd", origins=("x.ini:4", "x.ini:9"))
    assert assembled.origin_of(2) == "x.ini:9"


def test_dedupe_keeps_the_first_of_identical_files(tmp_path: Path) -> None:
    """Two inputs with the same bytes are counted once and the duplicate is recorded."""
    for name, text in (("a.log", "same\n"), ("b.log", "same\n"), ("c.log", "other\n")):
        (tmp_path / name).write_text(text)
    manifest = Manifest(
        "d", [in_scope("d", tmp_path / n, n, "k", "sshd") for n in ("a.log", "b.log", "c.log")]
    )
    dedupe(manifest)
    assert [i.label for i in manifest.inputs] == ["a.log", "c.log"]
    assert manifest.duplicates == [("b.log", "a.log")]


def test_loghub_maps_systems_to_formats(tmp_path: Path) -> None:
    """OpenSSH samples are sshd, Linux samples syslog, unknown systems out of scope."""
    for name in ("OpenSSH_2k.log", "Linux_2k.log", "HDFS_2k.log", "PROVENANCE.md"):
        (tmp_path / name).write_text(f"{name}\n")
    by_label = {i.label: i for i in loghub(tmp_path).inputs}
    assert sorted(by_label) == ["HDFS_2k.log", "Linux_2k.log", "OpenSSH_2k.log"]
    assert by_label["OpenSSH_2k.log"].expected == "sshd"
    assert by_label["Linux_2k.log"].expected == "syslog"
    assert by_label["HDFS_2k.log"].expected is None
    assert "unclassified" in (by_label["HDFS_2k.log"].out_of_scope or "")


def test_elastic_examples_reads_auth_logs_as_sshd(tmp_path: Path) -> None:
    """auth.log is an sshd input; another .log file is out of scope, not ignored."""
    (tmp_path / "auth.log").write_text("a\n")
    (tmp_path / "app.log").write_text("b\n")
    by_label = {i.label: i for i in elastic_examples(tmp_path).inputs}
    assert by_label["auth.log"].expected == "sshd"
    assert by_label["app.log"].expected is None
