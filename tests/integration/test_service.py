"""The use cases, on the in-memory fakes and on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain import errors
from bot.domain.effects import (
    ARCHIVE_CHALLENGER,
    CHAT_POST,
    CHAT_UPDATE,
    LAUNCH_PROMOTION,
    LOG_DECISION,
)
from bot.domain.model import State, VoteKind
from bot.domain.tokens import Scope
from bot.ports.store import RequestFilter
from bot.service import Services
from bot.service.identity import Identity
from tests import builders
from tests.builders import parse_config


def cli(name: str) -> Identity:
    return Identity("cli", name)


@pytest.fixture
def svc(service: Services) -> Services:
    service.admin.apply(builders.directory())
    return service


def outbox(svc: Services, kind: str | None = None) -> list:
    with svc.uow() as uow:
        items = uow.outbox.items(limit=1000)
    return [i for i in items if kind is None or i.kind == kind]


def events(svc: Services, request_id: str) -> list[str]:
    with svc.uow() as uow:
        return [r.kind for r in uow.audit.records(request_id)]


def test_submit_is_idempotent_on_model_version_and_staging_run(svc):
    first = svc.commands.submit(builders.submission())
    again = svc.commands.submit(builders.submission())
    assert first.created and not again.created
    assert again.request.id == first.request.id
    assert [i.kind for i in outbox(svc)] == [CHAT_POST]


def test_newer_request_supersedes_older_pending_one(svc, clock):
    old = svc.commands.submit(builders.submission(model_version="3", staging_run_id="s1")).request
    clock.advance(minutes=5)
    new = svc.commands.submit(builders.submission(model_version="4", staging_run_id="s2"))
    assert new.superseded == (old.id,)
    assert svc.queries.get(old.id).state is State.SUPERSEDED
    assert svc.queries.get(new.request.id).is_pending
    assert "superseded" in events(svc, old.id)
    # Superseded is also decided: one update of the old message shows both.
    updates = [i for i in outbox(svc, CHAT_UPDATE) if i.request_id == old.id]
    assert [i.payload["channel"] for i in updates] == list(svc.channels)


def test_submit_without_policy_is_refused(service):
    with pytest.raises(errors.InvalidRequest, match="no policy for model 'iris-classifier'"):
        service.commands.submit(builders.submission())


def test_full_approval_writes_votes_audit_and_effects(svc, clock):
    rid = svc.commands.submit(builders.submission()).request.id
    clock.advance(minutes=1)
    first = svc.commands.vote(rid, Identity("slack", "U02BOB"), VoteKind.APPROVE)
    assert not first.decided
    clock.advance(minutes=1)
    done = svc.commands.vote(rid, Identity("telegram", "1003"), VoteKind.APPROVE, comment="lgtm")
    assert done.decided and done.request.state is State.APPROVED
    stored = svc.queries.get(rid)
    assert [(v.person, v.channel) for v in stored.votes] == [
        ("bob", "slack"),
        ("carol", "telegram"),
    ]
    assert events(svc, rid) == ["submitted", "voted", "voted", "decided"]
    kinds = [i.kind for i in outbox(svc)]
    assert kinds.count(LOG_DECISION) == 1 and kinds.count(LAUNCH_PROMOTION) == 1
    assert svc.admin.verify_audit()[1] is None
    # Each vote re-renders the message once per channel: the deciding vote's two events
    # (voted, decided) show the same final state, so they ask for one update, not two.
    updates = [i.payload["channel"] for i in outbox(svc, CHAT_UPDATE)]
    assert sorted(updates) == sorted(list(svc.channels) * 2)


def test_reject_archives_the_challenger(svc):
    rid = svc.commands.submit(builders.submission()).request.id
    svc.commands.vote(rid, cli("carol"), VoteKind.REJECT, comment="latency too close to the limit")
    r = svc.queries.get(rid)
    assert r.state is State.REJECTED and r.reason == "latency too close to the limit"
    assert [i.payload["alias"] for i in outbox(svc, ARCHIVE_CHALLENGER)] == ["rejected"]


@pytest.mark.parametrize(
    ("who", "vote", "comment", "error"),
    [
        (cli("alice"), VoteKind.APPROVE, None, errors.SelfApproval),
        (cli("dave"), VoteKind.APPROVE, None, errors.NotEligible),
        (cli("zed"), VoteKind.APPROVE, None, errors.UnknownPerson),
        (Identity("slack", "U999"), VoteKind.APPROVE, None, errors.UnknownPerson),
        (cli("bob"), VoteKind.REJECT, "", errors.ReasonRequired),
    ],
)
def test_refusals_write_nothing_from_the_cli(svc, who, vote, comment, error):
    rid = svc.commands.submit(builders.submission()).request.id
    before = (events(svc, rid), len(outbox(svc)))
    with pytest.raises(error):
        svc.commands.vote(rid, who, vote, comment=comment, record_denial=False)
    assert (events(svc, rid), len(outbox(svc))) == before
    assert svc.queries.get(rid).votes == []


def test_chat_refusals_leave_a_denied_event_except_already_voted_or_decided(svc):
    """Not enrolled, self-approval: a denied event each. Already voted, already decided: none,
    the vote or the decision they bump into is in the log (README.md, Audit log)."""
    rid = svc.commands.submit(builders.submission(requested_by="alice")).request.id
    refusals = [
        ("U09NOBODY", errors.UnknownPerson),
        ("U01ALICE", errors.SelfApproval),
    ]
    svc.commands.vote(rid, Identity("slack", "U02BOB"), VoteKind.APPROVE)
    refusals.append(("U02BOB", errors.AlreadyVoted))
    for user, refusal in refusals:
        with pytest.raises(refusal):
            svc.commands.vote(rid, Identity("slack", user), VoteKind.APPROVE)
    svc.commands.vote(rid, Identity("slack", "U03CAROL"), VoteKind.APPROVE)
    with pytest.raises(errors.AlreadyDecided):
        svc.commands.vote(rid, Identity("slack", "U01ALICE"), VoteKind.REJECT, comment="late")
    whys = [
        r.data["why"]
        for r in svc.queries.history([svc.queries.get(rid)])[rid]
        if r.kind == "denied"
    ]
    assert whys == ["unknown_person", "self_approval"]
    assert svc.admin.verify_audit()[1] is None


def test_chat_refusal_leaves_a_denied_event_only(svc):
    rid = svc.commands.submit(builders.submission()).request.id
    with pytest.raises(errors.NotEligible):
        svc.commands.vote(rid, Identity("slack", "U04DAVE"), VoteKind.APPROVE)
    assert events(svc, rid) == ["submitted", "denied"]
    assert svc.queries.get(rid).votes == []
    assert svc.admin.verify_audit()[1] is None


def test_double_vote_and_vote_after_decision(svc):
    rid = svc.commands.submit(builders.submission()).request.id
    svc.commands.vote(rid, cli("bob"), VoteKind.APPROVE)
    with pytest.raises(errors.AlreadyVoted):
        svc.commands.vote(rid, cli("bob"), VoteKind.APPROVE)
    svc.commands.vote(rid, cli("carol"), VoteKind.APPROVE)
    with pytest.raises(errors.AlreadyDecided, match="already approved"):
        svc.commands.vote(rid, cli("alice"), VoteKind.REJECT, comment="too late")
    assert len(svc.queries.get(rid).votes) == 2


def test_unknown_request(svc):
    with pytest.raises(errors.UnknownRequest, match="'nope'"):
        svc.commands.vote("nope", cli("bob"), VoteKind.APPROVE)
    with pytest.raises(errors.UnknownRequest):
        svc.queries.get("nope")


def test_removing_a_person_from_a_group_removes_eligibility_from_then_on(svc):
    rid = svc.commands.submit(builders.submission()).request.id
    svc.commands.vote(rid, cli("bob"), VoteKind.APPROVE)
    cfg = builders.config_dict(groups={"ml-leads": ["alice"], "sre": ["carol", "erin"]})
    cfg["people"]["erin"] = {"slack": "U05ERIN"}
    svc.admin.apply(parse_config(cfg))
    # bob's earlier vote still counts (he was eligible when he cast it) ...
    assert [v.person for v in svc.queries.get(rid).votes] == ["bob"]
    rid2 = svc.commands.submit(
        builders.submission(model_version="9", staging_run_id="s9")
    ).request.id
    # ... but he can no longer vote.
    with pytest.raises(errors.NotEligible):
        svc.commands.vote(rid2, cli("bob"), VoteKind.APPROVE, record_denial=False)


def test_scan_expires_reminds_and_escalates_once(svc, clock):
    rid = svc.commands.submit(builders.submission()).request.id
    assert svc.commands.scan_due().reminded == []
    clock.advance(hours=12)
    assert svc.commands.scan_due().reminded == [rid]
    assert svc.commands.scan_due().reminded == []
    clock.advance(hours=12)
    assert svc.commands.scan_due().escalated == [rid]
    clock.advance(hours=24)
    assert svc.commands.scan_due().expired == [rid]
    r = svc.queries.get(rid)
    assert r.state is State.EXPIRED and r.decided_by == "system:deadline"
    assert events(svc, rid) == [
        "submitted",
        "reminded",
        "escalated",
        "reminded",
        "expired",
        "decided",
    ]
    assert [i.payload["alias"] for i in outbox(svc, ARCHIVE_CHALLENGER)] == ["archived"]


def test_search_filters_and_pages(svc, clock):
    ids = []
    for v in range(5):
        clock.advance(minutes=1)
        ids.append(
            svc.commands.submit(
                builders.submission(
                    model_name=f"m{v % 2}", model_version=str(v), staging_run_id=f"s{v}"
                )
            ).request.id
        )
    svc.commands.vote(ids[4], cli("carol"), VoteKind.REJECT, comment="no")
    assert [r.id for r in svc.queries.search(RequestFilter(model="m0"))] == [ids[0], ids[2], ids[4]]
    assert [r.id for r in svc.queries.search(RequestFilter(decision="rejected"))] == [ids[4]]
    assert [r.id for r in svc.queries.search(RequestFilter(decision="pending"))] == [ids[3]]
    assert [r.id for r in svc.queries.search(RequestFilter(approver="carol"))] == [ids[4]]
    page = svc.queries.search(RequestFilter(limit=2))
    nxt = svc.queries.search(RequestFilter(limit=2, after_id=(page[-1].created_at, page[-1].id)))
    assert [r.id for r in page + nxt] == ids[:4]


def test_tokens_are_stored_hashed(svc):
    token = svc.admin.create_token("staging-pipeline", frozenset({Scope.SUBMIT}))
    found = svc.admin.authenticate(token)
    assert found is not None and found.name == "staging-pipeline"
    assert found.scopes == {Scope.SUBMIT} and not found.legacy
    assert svc.admin.authenticate(token + "x") is None
    with svc.uow() as uow:
        assert uow.tokens.find(token) is None, "the raw token is not what is stored"
    with pytest.raises(errors.InvalidRequest, match="already exists"):
        svc.admin.create_token("staging-pipeline", frozenset({Scope.READ}))


def test_apply_twice_changes_nothing(svc):
    assert svc.admin.apply(builders.directory()) == []


def test_request_still_expires_after_its_policy_is_removed(svc, clock):
    rid = svc.commands.submit(builders.submission()).request.id
    svc.admin.apply(parse_config(builders.config_dict(policies=[])))
    clock.advance(hours=49)
    assert svc.commands.scan_due().expired == [rid]
    assert svc.queries.get(rid).state.value == "expired"


def test_search_newest_first_and_decided_only(svc, clock):
    ids = []
    for v in range(4):
        clock.advance(minutes=1)
        ids.append(
            svc.commands.submit(
                builders.submission(model_name=f"n{v}", model_version="1", staging_run_id=f"n{v}")
            ).request.id
        )
    svc.commands.vote(ids[1], cli("carol"), VoteKind.REJECT, comment="no")
    newest = svc.queries.search(RequestFilter(newest_first=True, limit=2))
    assert [r.id for r in newest] == [ids[3], ids[2]]
    assert [r.id for r in svc.queries.search(RequestFilter(decided=True))] == [ids[1]]


def test_only_enrolled_people_may_read(service):
    service.admin.apply(builders.directory())
    assert service.queries.reader(Identity("slack", "U02BOB")).name == "bob"
    with pytest.raises(errors.UnknownPerson, match="slack user U09NOBODY"):
        service.queries.reader(Identity("slack", "U09NOBODY"))


def test_the_bot_judges_gates_itself_so_a_failed_gate_cannot_be_approved(svc):
    # What the pipeline measured, without its own verdict: 500 ms is over the 100 ms limit.
    latency = {"name": "latency_p99_ms", "value": 500, "op": "<", "threshold": 100}
    request = svc.commands.submit(builders.submission(gates=[latency])).request
    assert [g.name for g in svc.queries.get(request.id).failed_gates] == ["latency_p99_ms"]
    with pytest.raises(errors.FailedGatesNotOverridable, match="latency_p99_ms"):
        svc.commands.vote(request.id, cli("bob"), VoteKind.APPROVE)
    assert svc.queries.get(request.id).is_pending


@pytest.mark.parametrize("text", ["a\u0000b", "a\u0007b", "a\u009bb"])
def test_control_characters_are_refused_before_they_reach_the_database(svc, text):
    rid = svc.commands.submit(builders.submission()).request.id
    with pytest.raises(errors.InvalidRequest, match=r"comment: .*control character U\+00"):
        svc.commands.vote(rid, cli("bob"), VoteKind.APPROVE, comment=text)
    with pytest.raises(errors.UnknownRequest):
        svc.queries.get(text)
    with pytest.raises(errors.UnknownRequest):
        svc.commands.vote(text, cli("bob"), VoteKind.APPROVE)
    with pytest.raises(errors.InvalidRequest, match=r"model: .*control character"):
        svc.queries.search(RequestFilter(model=text))
    with pytest.raises(errors.InvalidRequest, match=r"approver: .*control character"):
        svc.queries.search(RequestFilter(approver=text))
    with pytest.raises(errors.UnknownPerson):
        svc.queries.reader(Identity("slack", text))
    with pytest.raises(errors.UnknownPerson):
        svc.commands.vote(rid, cli(text), VoteKind.APPROVE)
    assert svc.queries.get(rid).votes == []


def test_a_comment_keeps_its_line_breaks(svc):
    rid = svc.commands.submit(builders.submission()).request.id
    svc.commands.vote(rid, cli("bob"), VoteKind.APPROVE, comment="looks good\n\tthanks")
    assert svc.queries.get(rid).votes[0].comment == "looks good\n\tthanks"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"people": {"bo\u0000b": {}}}, "people"),
        ({"groups": {"sre\u202e": ["carol"]}}, "groups"),
    ],
)
def test_config_names_with_control_or_bidi_characters_are_refused(change, where):
    with pytest.raises(errors.ConfigError, match=f"{where}.*U\\+"):
        parse_config(builders.config_dict(**change))


def test_a_comment_or_reason_over_2000_characters_is_refused(svc):
    rid = svc.commands.submit(builders.submission()).request.id
    with pytest.raises(
        errors.InvalidRequest, match=r"comment: at most 2000 characters \(got 10240\)"
    ):
        svc.commands.vote(rid, cli("bob"), VoteKind.REJECT, comment="x" * 10240)
    svc.commands.vote(rid, cli("bob"), VoteKind.APPROVE, comment="x" * 2000)
    assert len(svc.queries.get(rid).votes[0].comment or "") == 2000


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"people": {"p" * 101: {}}}, "people"),
        ({"groups": {"g" * 101: []}}, "groups"),
    ],
)
def test_config_names_longer_than_their_columns_are_refused(change, where):
    with pytest.raises(errors.ConfigError, match=f"{where}.*at most 100 characters"):
        parse_config(builders.config_dict(**change))


@pytest.mark.parametrize("name", ["", "   ", "t" * 101, "a\u0000b"])
def test_token_names_are_checked(svc, name):
    with pytest.raises(errors.InvalidRequest, match="token name"):
        svc.admin.create_token(name, frozenset({Scope.READ}))


def test_pages_walk_every_match_oldest_first(service, clock):
    service.admin.apply(builders.directory())
    ids = []
    for v in range(5):
        clock.advance(minutes=1)
        body = builders.submission(model_name=f"m{v}", model_version=str(v), staging_run_id=f"s{v}")
        ids.append(service.commands.submit(body).request.id)
    pages = list(service.queries.pages(RequestFilter(), size=2))
    assert [[r.id for r in page] for page in pages] == [ids[:2], ids[2:4], ids[4:]]
    assert [r.id for r in service.queries.search(RequestFilter())] == ids
    assert list(service.queries.pages(RequestFilter(model="nope"), size=2)) == []


def approve_version(svc, version: str) -> str:
    rid = svc.commands.submit(
        builders.submission(model_version=version, staging_run_id=f"s{version}")
    ).request.id
    svc.commands.vote(rid, cli("bob"), VoteKind.APPROVE)
    svc.commands.vote(rid, cli("carol"), VoteKind.APPROVE)
    return rid


def test_a_newer_approval_of_the_model_is_named_on_the_older_one(svc, clock):
    old = approve_version(svc, "3")
    assert svc.queries.newer_approval(svc.queries.get(old)) is None
    clock.advance(minutes=5)
    rejected = svc.commands.submit(
        builders.submission(model_version="4", staging_run_id="s4")
    ).request.id
    svc.commands.vote(rejected, cli("bob"), VoteKind.REJECT, comment="no")
    assert svc.queries.newer_approval(svc.queries.get(old)) is None  # a rejection replaces nothing
    clock.advance(minutes=5)
    new = approve_version(svc, "5")
    newer = svc.queries.newer_approval(svc.queries.get(old))
    assert newer is not None and newer.id == new and newer.model_version == "5"
    assert svc.queries.newer_approval(svc.queries.get(new)) is None


def test_read_access_follows_the_setting(service):
    from bot.domain.access import ReadAccess
    from bot.service.queries import Queries

    service.admin.apply(builders.directory())
    kinds = service.identities
    stranger, bob, alice, carol = (
        Identity("slack", "U09NOBODY"),
        Identity("slack", "U02BOB"),
        Identity("slack", "U01ALICE"),
        Identity("slack", "U03CAROL"),
    )
    enrolled = Queries(service.uow, read_access=ReadAccess.parse("enrolled"), identities=kinds)
    assert enrolled.reader(bob).name == "bob"
    with pytest.raises(errors.UnknownPerson):
        enrolled.reader(stranger)
    sre = Queries(service.uow, read_access=ReadAccess.parse("sre"), identities=kinds)
    assert sre.reader(carol).name == "carol"
    with pytest.raises(errors.UnknownPerson, match=r"alice may not read requests.*sre"):
        sre.reader(alice)
    anyone = Queries(service.uow, read_access=ReadAccess.parse("anyone"), identities=kinds)
    assert anyone.reader(stranger).name == "slack user U09NOBODY"


@pytest.mark.parametrize("text", ["", " , ", "sre,", "a\u0000b"])
def test_a_bad_read_access_setting_is_refused(text):
    from bot.domain.access import ReadAccess

    with pytest.raises(ValueError, match="enrolled"):
        ReadAccess.parse(text)


def _claim(svc, rid: str, clock, seconds: float = 60):
    """Claim posting the request's Slack message, as the chat core's publisher does."""
    import secrets

    now = clock.now()
    with svc.uow() as uow:
        claim = uow.chat.claim(
            rid,
            "slack",
            token=secrets.token_hex(8),
            now=now,
            lease_until=now + timedelta(seconds=seconds),
        )
        uow.commit()
    return claim


def _chat(svc, clock, what: str, rid: str, token: str, ref=None):
    with svc.uow() as uow:
        if what == "posted":
            done = uow.chat.finish(rid, "slack", token=token, ref=ref, at=clock.now())
        elif what == "abandon":
            done = uow.chat.abandon(rid, "slack", token=token, at=clock.now())
        else:
            done = uow.chat.release(rid, "slack", token=token)
        uow.commit()
    return done


def test_a_chat_message_is_claimed_by_one_deliverer_then_posted(svc, clock):
    rid = svc.commands.submit(builders.submission()).request.id
    first = _claim(svc, rid, clock)
    assert first.token and not first.retaken and first.ref is None
    busy = _claim(svc, rid, clock)
    assert busy.token is None and busy.ref is None, "another deliverer is posting it"
    assert svc.chat.ref(rid, "slack") is None, "a claim is not a message"
    clock.advance(seconds=61)  # the first deliverer died: its claim runs out
    second = _claim(svc, rid, clock)
    assert second.retaken and second.token != first.token
    assert not _chat(svc, clock, "posted", rid, str(first.token), {"ts": "1"})
    assert _chat(svc, clock, "posted", rid, str(second.token), {"ts": "2"})
    assert _claim(svc, rid, clock).ref == {"ts": "2"} == svc.chat.ref(rid, "slack")

    other = svc.commands.submit(
        builders.submission(model_version="4", staging_run_id="s4")
    ).request.id
    held = _claim(svc, other, clock)
    _chat(svc, clock, "abandon", other, str(held.token))  # it could not tell whether it posted
    again = _claim(svc, other, clock)
    assert again.retaken  # ...so the next one looks first
    _chat(svc, clock, "release", other, str(again.token))  # the channel refused: nothing posted
    fresh = _claim(svc, other, clock)
    assert fresh.token and not fresh.retaken


def _shown(svc, rid: str, what: str, digest: str = ""):
    with svc.uow() as uow:
        if what == "take":
            out = uow.chat.take_shown(rid, "slack")
        else:
            out = uow.chat.mark_shown(rid, "slack", digest)
        uow.commit()
    return out


def test_what_a_message_shows_is_taken_then_recorded_and_never_stale(svc, clock):
    """The digest of what a message shows (an update rendering the same is not sent): taken
    with the claim and forgotten until the delivery records it, so that a delivery that
    never records leaves it unknown; two deliveries in flight leave it unknown."""
    rid = svc.commands.submit(builders.submission()).request.id
    claim = _claim(svc, rid, clock)
    assert _shown(svc, rid, "take") is None  # not posted yet
    with svc.uow() as uow:
        assert uow.chat.finish(
            rid, "slack", token=str(claim.token), ref={"ts": "1"}, at=clock.now(), shown="a"
        )
        uow.commit()
    assert _shown(svc, rid, "take") == "a"
    assert _shown(svc, rid, "take") is None  # taken: unknown until recorded (a crash here)
    assert _shown(svc, rid, "mark", "b")
    assert _shown(svc, rid, "take") == "b"
    # Two deliveries in flight: the first to record wins, the second makes it unknown.
    assert _shown(svc, rid, "take") is None
    assert _shown(svc, rid, "mark", "c")
    assert not _shown(svc, rid, "mark", "d")
    assert _shown(svc, rid, "take") is None
    assert svc.chat.ref(rid, "slack") == {"ts": "1"}


@pytest.mark.postgres
def test_concurrent_claims_on_postgresql_give_one_token(pg_url, clock):
    import threading

    from tests.support.bot_server import prepare_database, service_for

    prepare_database(pg_url)
    with service_for(pg_url, clock) as a, service_for(pg_url, clock) as b:
        rid = a.commands.submit(builders.submission()).request.id
        won: list[str] = []
        lost: list[str] = []
        start = threading.Barrier(8)

        def claim(svc) -> None:
            start.wait()
            got = _claim(svc, rid, clock)
            (won if got.token else lost).append(str(got.token))

        threads = [threading.Thread(target=claim, args=(s,)) for s in (a, b) * 4]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert len(won) == 1 and len(lost) == 7
