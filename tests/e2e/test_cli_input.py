"""The CLI with bad input: one line on stderr naming the problem (click's usage errors for
bad arguments), never a traceback; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.adapters.db import make_engine
from tests import builders
from tests.e2e.cli import Cli
from tests.support.bot_server import prepare_database, service_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(db_url, tmp_path) -> Cli:
    prepare_database(db_url)
    return Cli(db_url, tmp_path)


# -- 4. outbox ids are 64-bit ------------------------------------------------------------


@pytest.mark.parametrize("item_id", ["2147483648", "9223372036854775807"])
def test_outbox_retry_of_a_64_bit_id_that_does_not_exist_is_one_line(cli, item_id):
    assert cli.fails("outbox", "retry", item_id) == (
        f"error: no dead, waiting or pending outbox item {item_id}"
    )


@pytest.mark.parametrize("item_id", ["9223372036854775808", "0", "-1"])
def test_outbox_retry_of_an_id_out_of_range_is_a_usage_error(cli, item_id):
    result = cli("outbox", "retry", "--", item_id)
    assert result.code == 2
    assert f"Error: Invalid value for 'ITEM_ID': {item_id} is not in the range" in result.err
    assert "Traceback" not in result.err


def test_outbox_ids_past_32_bits_work(cli, db_url):
    """The id column and (on PostgreSQL) its sequence are 64-bit."""
    engine = make_engine(db_url)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER SEQUENCE outbox_id_seq RESTART WITH 2147483648"))
        else:  # SQLite takes the next rowid after the largest
            conn.execute(
                text(
                    "INSERT INTO outbox (id, kind, idempotency_key, payload, state, attempts, "
                    "created_at) VALUES (2147483647, 'x', 'x', '{}', 'delivered', 1, "
                    "'2026-01-01 00:00:00')"
                )
            )
    engine.dispose()
    with service_for(db_url) as svc:
        rid = svc.commands.submit(builders.submission()).request.id
        with svc.uow() as uow:
            [item] = uow.outbox.for_requests([rid])
    assert item.id == 2147483648
    assert "queued" in cli.ok("outbox", "retry", str(item.id))
    listed = json.loads(cli.ok("outbox", "list", "--state", "pending", "--format", "json"))
    assert [i["id"] for i in listed] == [2147483648]


# -- 5. files that are not UTF-8 ----------------------------------------------------------


def test_a_submission_file_that_is_not_utf8_is_one_line(cli, tmp_path):
    path = tmp_path / "f.json"
    path.write_bytes(b"\xff\xfe{}")
    line = cli.fails("submit", "-f", str(path))
    assert line == f"error: {path}: not UTF-8 text (byte 0xff at position 0)"


def test_a_config_file_that_is_not_utf8_is_one_line(cli, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_bytes(b"people:\n  al\xe9: {}\n")
    line = cli.fails("apply", "-f", str(path))
    assert line == f"error: {path}: not UTF-8 text (byte 0xe9 at position 12)"


def test_a_submission_nested_too_deeply_is_one_line(cli, tmp_path):
    body = json.loads((ROOT / "examples" / "request.json").read_text())
    body["promotion"]["parameters"] = {"deep": "HERE"}
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(body).replace('"HERE"', "[" * 5000 + "]" * 5000))
    line = cli.fails("submit", "-f", str(path))
    assert "nested" in line and str(path) in line


# -- 7. limits ----------------------------------------------------------------------------


def test_a_10kb_comment_is_one_line_and_writes_nothing(cli, db_url):
    with service_for(db_url) as svc:
        rid = svc.commands.submit(builders.submission()).request.id
    line = cli.fails("approve", rid, "--as", "bob", "--comment", "x" * 10240)
    assert line == "error: comment: at most 2000 characters (got 10240)"
    with service_for(db_url) as svc:
        assert svc.queries.get(rid).votes == []


def test_a_token_name_longer_than_100_characters_is_one_line(cli):
    assert "token name" in cli.fails("token", "create", "t" * 101, "--scope", "read")
