"""What the API is sent, trusted no further than it can be checked: against a running
`approval-bot serve` on SQLite and on PostgreSQL (README.md, "HTTP API")."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from bot.domain.model import VoteKind
from bot.service.identity import Identity
from tests import builders
from tests.conftest import temporary_pg_database
from tests.support.bot_server import BotServer, prepare_database, running_bot

TOKEN = "bootstrap-token-for-input-tests-0123"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def bot(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[BotServer]:
    workdir = tmp_path_factory.mktemp(f"input-{request.param}")
    with (
        temporary_pg_database(request.getfixturevalue("pg_admin_url"))
        if request.param == "postgres"
        else _sqlite(workdir)
    ) as db_url:
        prepare_database(db_url)
        # An admin bootstrap token: these tests reach every route (scopes: test_token_scopes.py)
        env = {"APPROVAL_BOT_API_TOKEN": TOKEN, "APPROVAL_BOT_API_TOKEN_SCOPES": "admin"}
        with running_bot(db_url, workdir, env=env) as server:
            yield server


class _sqlite:
    def __init__(self, workdir) -> None:
        self.url = f"sqlite:///{workdir}/bot.db"

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.fixture(scope="module")
def client(bot: BotServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=bot.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as c:
        yield c


_runs = iter(range(1, 10**6))


def body(**fields) -> dict:
    """A valid submission (a fresh staging run each time), with ``fields`` changed."""
    raw = json.loads(builders.submission().model_dump_json(exclude_none=True))
    raw["staging_run_id"] = f"input-{next(_runs)}"
    raw.update(fields)
    return raw


def fields_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    payload = response.json()
    assert payload["error"] == "validation_error"
    return {f["path"]: f["message"] for f in payload["fields"]}


# -- 1. gates are judged by the bot -------------------------------------------------------


def test_a_gate_whose_passed_contradicts_its_numbers_is_refused_naming_the_gate(client):
    gate = {"name": "latency_p99_ms", "value": 500, "op": "<", "threshold": 100, "passed": True}
    problems = fields_of(client.post("/api/v1/approvals", json=body(gates=[gate])))
    assert list(problems) == ["gates[0].passed"]
    assert "latency_p99_ms: 500 < 100 is false" in problems["gates[0].passed"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("passed", 0), ("passed", "yes"), ("passed", "true"), ("value", "5"), ("value", True)],
)
def test_gate_numbers_are_numbers_and_booleans_are_booleans(client, field, value):
    gate = {"name": "latency_p99_ms", "value": 5, "op": "<", "threshold": 100, field: value}
    problems = fields_of(client.post("/api/v1/approvals", json=body(gates=[gate])))
    assert list(problems) == [f"gates[0].{field}"]


def test_without_passed_the_bot_judges_the_gate(client):
    gates = [
        {"name": "latency_p99_ms", "value": 500, "op": "<", "threshold": 100},
        {"name": "challenger_accuracy", "value": 0.97, "op": ">=", "threshold": -1.0},
    ]
    created = client.post("/api/v1/approvals", json=body(gates=gates))
    assert created.status_code == 201, created.text
    judged = {g["name"]: g for g in created.json()["gates"]}
    assert judged["latency_p99_ms"]["passed"] is False
    assert judged["challenger_accuracy"]["passed"] is True
    assert judged["challenger_accuracy"]["no_champion"] is True


# -- 3. control characters, and bidi overrides in names -------------------------------------


@pytest.mark.parametrize("field", ["model_name", "requested_by", "model_version"])
@pytest.mark.parametrize("text", ["a\u0000b", "a\u001bb", "a\u0085b", "iris\u202ereifissalc"])
def test_names_with_control_or_bidi_override_characters_are_422(client, field, text):
    problems = fields_of(client.post("/api/v1/approvals", json=body(**{field: text})))
    assert list(problems) == [field]
    assert "U+" in problems[field]


@pytest.mark.parametrize(
    "change",
    [
        {"staging_run_id": "run\u0000"},
        {"links": {"mlflow": "http://x/\u0000"}},
        {"links": {"ml\u0000flow": "http://x/"}},
        {"gates": [{"name": "lat\u0000", "value": 1, "op": "<", "threshold": 2}]},
        {"promotion": {"parameters": {"deploy_target": "none\u0000"}}},
    ],
)
def test_control_characters_anywhere_in_a_submission_are_422(client, bot, change):
    response = client.post("/api/v1/approvals", json=body(**change))
    assert response.status_code == 422, response.text
    assert "control character" in response.json()["message"]


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/v1/approvals/%00", {}, (404, 422)),
        ("/api/v1/approvals/a%1Bb", {}, (404, 422)),
        ("/api/v1/approvals", {"model": "\u0000"}, (422,)),
        ("/api/v1/audit", {"approver": "\u0000"}, (422,)),
        ("/api/v1/audit", {"model": "a\u0000b"}, (422,)),
    ],
)
def test_control_characters_in_paths_and_queries_are_refused(client, bot, path, params, status):
    response = client.get(path, params=params)
    assert response.status_code in status, response.text
    assert response.json()["error"] in ("validation_error", "unknown_request")
    assert "Traceback" not in bot.log()


def test_the_console_answers_404_for_a_control_character_id(bot):
    assert httpx.get(f"{bot.url}/requests/%00", timeout=30).status_code == 404
    assert httpx.get(f"{bot.url}/requests/a%00b", timeout=30).status_code == 404
    assert "Traceback" not in bot.log()


# -- 4. outbox ids are 64-bit ----------------------------------------------------------------


@pytest.mark.parametrize("item_id", [2147483648, 2**63 - 1])
def test_retrying_a_64_bit_outbox_id_that_does_not_exist_is_404(client, item_id):
    response = client.post(f"/api/v1/outbox/{item_id}/retry")
    assert response.status_code == 404, response.text
    assert response.json()["error"] == "not_found"


def test_retrying_an_outbox_id_past_64_bits_is_422(client):
    assert client.post(f"/api/v1/outbox/{2**63}/retry").status_code == 422


# -- 6. the API contract ------------------------------------------------------------------


@pytest.fixture(scope="module")
def openapi(bot) -> dict:
    return httpx.get(f"{bot.url}/openapi.json", timeout=30).json()


def operations(openapi: dict):
    for path, methods in openapi["paths"].items():
        for method, op in methods.items():
            yield f"{method.upper()} {path}", op


def test_every_authenticated_operation_documents_401_and_the_error_shape(openapi):
    secured = [(name, op) for name, op in operations(openapi) if op.get("security")]
    assert len(secured) == 11  # the six, one evidence picture, a canary's GET and PUT rollout,
    # the divergences (list and one)
    for name, op in secured:
        for status in ("401", "422", "503"):
            documented = op["responses"].get(status)
            assert documented is not None, f"{name} does not document {status}"
            schema = documented["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, name
    error = openapi["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"error", "message"}


def test_query_parameters_do_not_offer_null(openapi, client):
    for name, op in operations(openapi):
        for param in op.get("parameters", []):
            assert "null" not in json.dumps(param["schema"]), f"{name} {param['name']}"
    assert client.get("/api/v1/outbox", params={"state": "null"}).status_code == 422


def test_a_cursor_is_what_the_schema_says(openapi, client):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    [cursor] = [
        p["schema"]
        for p in openapi["paths"]["/api/v1/approvals"]["get"]["parameters"]
        if p["name"] == "cursor"
    ]
    assert "pattern" in cursor

    @given(st.from_regex(cursor["pattern"], fullmatch=True))
    @settings(
        max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    def accepted(value: str) -> None:
        if len(value) > cursor.get("maxLength", 10**6):
            return
        for path in ("/api/v1/approvals", "/api/v1/audit"):
            response = client.get(path, params={"cursor": value})
            assert response.status_code == 200, (value, response.text)

    accepted()
    assert client.get("/api/v1/approvals", params={"cursor": "!!"}).status_code == 422


def test_a_body_that_is_not_utf8_is_the_documented_422(client):
    response = client.post(
        "/api/v1/approvals", content=b"\xff\xfe{}", headers={"Content-Type": "application/json"}
    )
    problems = fields_of(response)
    assert problems == {"(body)": "not UTF-8 text (byte 0xff at position 0)"}


def test_a_body_nested_too_deeply_is_the_documented_422(client):
    raw = json.dumps(body(promotion={"parameters": {"deep": "HERE"}}))
    deep = raw.replace('"HERE"', "[" * 5000 + "]" * 5000).encode()
    problems = fields_of(
        client.post("/api/v1/approvals", content=deep, headers={"Content-Type": "application/json"})
    )
    assert list(problems) == ["(body)"]
    assert "nested too deeply" in problems["(body)"]


def test_a_body_that_is_not_json_is_the_documented_422(client):
    response = client.post(
        "/api/v1/approvals", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    problems = fields_of(response)
    assert list(problems) == ["(body)"]
    assert problems["(body)"].startswith("not valid JSON")


# -- 7. limits ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_staging_run_id_is_refused(client, value):
    problems = fields_of(client.post("/api/v1/approvals", json=body(staging_run_id=value)))
    assert problems == {"staging_run_id": "must not be empty"}
    # The registry may know no run for a version: those may be empty.
    created = client.post("/api/v1/approvals", json=body(challenger_run_id="", data_run_id=""))
    assert created.status_code == 201, created.text


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [
        ("challenger_run_id", "r" * 65, 64),
        ("data_run_id", "r" * 65, 64),
        ("staging_run_id", "r" * 129, 128),
        ("model_name", "m" * 201, 200),
        ("requested_by", "p" * 201, 200),
        ("model_version", "9" * 65, 64),
    ],
)
def test_text_longer_than_its_limit_is_422_naming_the_limit(client, field, value, limit):
    problems = fields_of(client.post("/api/v1/approvals", json=body(**{field: value})))
    assert problems == {field: f"String should have at most {limit} characters"}


def test_links_and_parameters_are_limited_in_number(client):
    links = {f"l{i}": "http://x/" for i in range(21)}
    assert list(fields_of(client.post("/api/v1/approvals", json=body(links=links)))) == ["links"]
    params = {f"p{i}": i for i in range(51)}
    problems = fields_of(
        client.post("/api/v1/approvals", json=body(promotion={"parameters": params}))
    )
    assert list(problems) == ["promotion.parameters"]


# -- 8. promotion only for the model's latest approval ---------------------------------------


def test_the_promotion_guard_reading_the_real_api_refuses_an_approval_replaced_since(client, bot):
    from pipelines.errors import ApprovalError
    from pipelines.steps.promotion import check_approval
    from tests.support.bot_server import service_for

    ids = []
    for version in ("31", "32"):
        created = client.post(
            "/api/v1/approvals", json=body(model_name="guarded", model_version=version)
        ).json()
        with service_for(bot.db_url) as svc:
            for who in ("bob", "carol"):
                svc.commands.vote(created["id"], Identity("cli", who), VoteKind.APPROVE)
        ids.append(created["id"])
    old, new = (client.get(f"/api/v1/approvals/{rid}").json() for rid in ids)
    assert old["newer_approval"] == {
        "id": ids[1],
        "model_version": "32",
        "state": "approved",
        "decided_at": new["decided_at"],
    }
    assert new["newer_approval"] is None

    def guard(request: dict, version: str) -> str:
        return check_approval(
            request,
            approval_request_id=request["id"],
            model_name="guarded",
            model_version=version,
            data_run_id=request["data_run_id"],
        )

    assert guard(new, "32") == "approved"
    with pytest.raises(ApprovalError, match=f"request {ids[1]} approved guarded v32"):
        guard(old, "31")
