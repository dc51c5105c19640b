"""What the Telegram channel keeps (its update offset, its reject prompts) survives, on the
in-memory fakes, SQLite and PostgreSQL alike."""

from __future__ import annotations

from bot.service import Services


def test_values_are_kept_replaced_and_dropped(service: Services) -> None:
    chat = service.chat
    assert chat.telegram_state("updates_offset") is None
    chat.save_telegram_state("updates_offset", 41)
    chat.save_telegram_state("updates_offset", 42)
    chat.save_telegram_state("prompt:-100:7", {"request_id": "abc", "user_id": 1002})
    assert chat.telegram_state("updates_offset") == 42
    assert chat.telegram_state("prompt:-100:7") == {"request_id": "abc", "user_id": 1002}
    assert chat.drop_telegram_state("prompt:-100:7") is True
    assert chat.drop_telegram_state("prompt:-100:7") is False
    assert chat.telegram_state("prompt:-100:7") is None
    assert chat.telegram_state("updates_offset") == 42


def test_a_value_read_is_a_copy(service: Services) -> None:
    service.chat.save_telegram_state("prompt:1:2", {"user_id": 1})
    value = service.chat.telegram_state("prompt:1:2")
    value["user_id"] = 2
    assert service.chat.telegram_state("prompt:1:2") == {"user_id": 1}
