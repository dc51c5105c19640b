"""What a channel keeps (Telegram's update offset and reject prompts, say) survives, per
channel, on the in-memory fakes, SQLite and PostgreSQL alike."""

from __future__ import annotations

from bot.service import Services


def test_values_are_kept_replaced_and_dropped(service: Services) -> None:
    state = service.chat.state("telegram")
    assert state.get("updates_offset") is None
    state.put("updates_offset", 41)
    state.put("updates_offset", 42)
    state.put("prompt:-100:7", {"request_id": "abc", "user_id": 1002})
    assert state.get("updates_offset") == 42
    assert state.get("prompt:-100:7") == {"request_id": "abc", "user_id": 1002}
    assert state.drop("prompt:-100:7") is True
    assert state.drop("prompt:-100:7") is False
    assert state.get("prompt:-100:7") is None
    assert state.get("updates_offset") == 42


def test_each_channel_keeps_its_own(service: Services) -> None:
    service.chat.state("telegram").put("updates_offset", 7)
    other = service.chat.state("pigeon")
    assert other.get("updates_offset") is None
    other.put("updates_offset", 8)
    assert service.chat.state("telegram").get("updates_offset") == 7
    assert other.drop("updates_offset") is True
    assert service.chat.state("telegram").get("updates_offset") == 7


def test_a_value_read_is_a_copy(service: Services) -> None:
    state = service.chat.state("telegram")
    state.put("prompt:1:2", {"user_id": 1})
    value = state.get("prompt:1:2")
    value["user_id"] = 2
    assert state.get("prompt:1:2") == {"user_id": 1}
