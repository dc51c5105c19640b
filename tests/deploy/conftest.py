"""Deploy tests need helm; fail (not skip) without it, since CI must run them."""

from __future__ import annotations

import pytest

from tests.deploy import helm


@pytest.fixture(scope="session", autouse=True)
def helm_binary() -> str:
    try:
        return helm.binary()
    except FileNotFoundError as error:
        pytest.fail(str(error))
