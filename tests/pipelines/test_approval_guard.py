"""The promotion guard promotes only the model's latest approval (README.md, "MLflow and
KFP effects"): a request already promoted, or one a newer approval replaced, stops the run
with a message naming the newer champion, so an old run cannot move @champion back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipelines.errors import ApprovalError
from pipelines.steps import approvals, promotion
from tests.pipelines.fakes import FakeApprovalBot


@pytest.fixture
def fake_bot(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApprovalBot]:
    monkeypatch.setattr(approvals, "BACKOFF_SECONDS", 0.0)
    with FakeApprovalBot() as fake:
        for key, value in fake.env.items():
            monkeypatch.setenv(key, value)
        yield fake


def submit(version: str) -> str:
    body = {
        "model_name": "iris-classifier",
        "model_version": version,
        "data_run_id": "run-d",
        "staging_run_id": f"kfp-{version}",
        "requested_by": "ci",
    }
    return str(approvals.BotClient.from_env().submit(body)["id"])


def verify(request_id: str, version: str) -> str:
    return promotion.verify_approval(
        request_id, model_name="iris-classifier", model_version=version, data_run_id="run-d"
    )


@pytest.mark.parametrize("state", ["approved", "promoting"])
def test_the_latest_approval_is_promoted(fake_bot: FakeApprovalBot, state: str) -> None:
    rid = submit("3")
    fake_bot.set_state(rid, state, newer_approval=None)
    assert verify(rid, "3") == state


def test_a_request_already_promoted_is_not_promoted_again(fake_bot: FakeApprovalBot) -> None:
    rid = submit("3")
    fake_bot.set_state(rid, "promoted", newer_approval=None)
    with pytest.raises(ApprovalError, match=r"is 'promoted'.*already.*refusing to promote"):
        verify(rid, "3")


@pytest.mark.parametrize("newer_state", ["approved", "promoting", "promoted"])
def test_an_approval_a_newer_one_replaced_stops_naming_the_newer_champion(
    fake_bot: FakeApprovalBot, newer_state: str
) -> None:
    old = submit("3")
    new = submit("4")
    newer = {"id": new, "model_version": "4", "state": newer_state}
    fake_bot.set_state(old, "approved", newer_approval=newer)
    with pytest.raises(ApprovalError) as refused:
        verify(old, "3")
    message = str(refused.value)
    assert f"request {new}" in message and "iris-classifier v4" in message
    assert "refusing to promote" in message


def test_without_word_on_newer_approvals_the_guard_refuses(fake_bot: FakeApprovalBot) -> None:
    """A bot that does not say whether this is the latest approval cannot be trusted with
    a promotion: the guard fails closed."""
    rid = submit("3")
    fake_bot.set_state(rid, "approved")
    del fake_bot.approvals[rid]["newer_approval"]
    with pytest.raises(ApprovalError, match="latest approval"):
        verify(rid, "3")
