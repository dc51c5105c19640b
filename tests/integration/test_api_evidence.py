"""Evidence pictures sent with a submission, against a running `approval-bot serve` on
SQLite and PostgreSQL: what is not a whole PNG or JPEG within the limits is a 422 naming
it, and nothing of that submission is stored (README.md, "Evidence")."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import httpx
import pytest

from bot.domain import images
from bot.domain.evidence import MAX_PICTURES
from tests import builders
from tests.conftest import temporary_pg_database
from tests.support.bot_server import BotServer, prepare_database, running_bot
from tests.support.pictures import b64, bomb, jpeg, png

TOKEN = "bootstrap-token-for-evidence-tests-01"
_models = iter(range(1, 10**6))


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def bot(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[BotServer]:
    workdir = tmp_path_factory.mktemp(f"evidence-{request.param}")
    if request.param == "postgres":
        with temporary_pg_database(request.getfixturevalue("pg_admin_url")) as db_url:
            prepare_database(db_url)
            with running_bot(db_url, workdir, env={"APPROVAL_BOT_API_TOKEN": TOKEN}) as s:
                yield s
        return
    db_url = f"sqlite:///{workdir}/bot.db"
    prepare_database(db_url)
    with running_bot(db_url, workdir, env={"APPROVAL_BOT_API_TOKEN": TOKEN}) as server:
        yield server


@pytest.fixture(scope="module")
def client(bot: BotServer) -> Iterator[httpx.Client]:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=bot.url, headers=auth, timeout=60) as c:
        yield c


def body(*pictures: bytes) -> dict:
    """A valid submission of a model of its own, with these pictures."""
    raw = json.loads(builders.submission().model_dump_json(exclude_none=True))
    raw["model_name"] = f"evidence-model-{next(_models)}"
    raw["evidence"] = [{"data": b64(p), "alt": f"picture {i}"} for i, p in enumerate(pictures)]
    return raw


def refused(client: httpx.Client, sent: dict) -> dict[str, str]:
    """The 422's fields, after checking that nothing of the submission was stored."""
    response = client.post("/api/v1/approvals", json=sent)
    assert response.status_code == 422, response.text
    payload = response.json()
    assert payload["error"] == "validation_error"
    listed = client.get("/api/v1/approvals", params={"model": sent["model_name"]})
    assert listed.status_code == 200 and listed.json()["items"] == [], listed.text
    return {f["path"]: f["message"] for f in payload["fields"]}


def test_pictures_are_stored_with_the_request_and_hashed_into_its_audit_event(client):
    sent = [png(20, 10), jpeg(30, 15)]
    created = client.post("/api/v1/approvals", json=body(*sent))
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    listed = created.json()["evidence"]
    assert [(e["media_type"], e["width"], e["height"]) for e in listed] == [
        ("image/png", 20, 10),
        ("image/jpeg", 30, 15),
    ]
    got = client.get(f"/api/v1/approvals/{rid}")
    submitted = next(h for h in got.json()["history"] if h["kind"] == "submitted")
    hashes = [hashlib.sha256(p).hexdigest() for p in sent]
    assert [e["sha256"] for e in submitted["data"]["evidence"]] == hashes
    assert [e["sha256"] for e in got.json()["evidence"]] == hashes
    for i, picture in enumerate(sent):
        served = client.get(f"/api/v1/approvals/{rid}/evidence/{i}")
        assert served.status_code == 200
        assert served.content == picture
        assert served.headers["content-type"] == listed[i]["media_type"]
    assert client.get(f"/api/v1/approvals/{rid}/evidence/2").status_code == 404


def test_a_non_image_is_refused(client):
    problems = refused(client, body(png(), b"<svg xmlns='http://www.w3.org/2000/svg'/>"))
    assert problems == {"evidence[1].data": "not a PNG or JPEG image (its first bytes are neither)"}


def test_a_truncated_png_is_refused(client):
    problems = refused(client, body(png(64, 64)[:-20]))
    assert "truncated PNG" in problems["evidence[0].data"]


def test_an_oversized_image_is_refused(client):
    side = images.MAX_SIDE + 1
    problems = refused(client, body(png(side, 2)))
    assert f"longer than {images.MAX_SIDE} pixels" in problems["evidence[0].data"]
    too_big = b"\x89PNG\r\n\x1a\n" + b"\x00" * images.MAX_BYTES
    problems = refused(client, body(too_big))
    assert "bytes" in problems["evidence[0].data"]


def test_a_pixel_bomb_is_refused_by_its_header(client):
    problems = refused(client, body(bomb(60000, 60000)))
    assert "60000×60000" in problems["evidence[0].data"]


def test_one_image_too_many_is_refused(client):
    problems = refused(client, body(*[png()] * (MAX_PICTURES + 1)))
    assert list(problems) == ["evidence"]
    assert str(MAX_PICTURES) in problems["evidence"]


def test_data_that_is_not_base64_is_refused(client):
    sent = body(png())
    sent["evidence"][0]["data"] = "not base64!"
    assert "not base64" in refused(client, sent)["evidence[0].data"]
