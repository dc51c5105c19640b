"""A ``kfp.Client`` that authenticates the way the pod can, and never waits without a limit.

Authentication, first match wins: a bearer token (``token``); the projected ServiceAccount
token file (``token_path``, e.g. ``$KF_PIPELINES_SA_TOKEN_PATH`` with audience
``pipelines.kubeflow.org``), through kfp's own ``ServiceAccountTokenVolumeCredentials``, which
reads the file on every request so the kubelet's rotation needs no restart; else nothing.
(kfp.Client itself only reads that file when no ``host`` is given, i.e. never here.)

Timeouts: kfp.Client passes no timeout to its HTTP calls (kfp_server_api ``rest.py`` hands
urllib3 ``timeout=None``, which waits forever, and urllib3 retries reads three times). Every
call made through this client gets ``timeout_seconds`` to connect and to read, and is not
retried: a caller that gave up knows one attempt was made. The healthz probe kfp.Client makes
while it is built (single-user KFP, no namespace) gets the same limit, once.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

REQUEST_TIMEOUT_SECONDS = 30.0  # the CLI's default; the bot's launcher sets its own


def _bound(api_client: Any, timeout_seconds: float) -> None:
    """Give every request of ``api_client`` a (connect, read) timeout and no retries."""
    import urllib3

    rest = api_client.rest_client
    if getattr(rest, "_approval_bot_bounded", False):
        return
    send = rest.request

    def request(*args: Any, _request_timeout: Any = None, **kwargs: Any) -> Any:
        limit = _request_timeout or (timeout_seconds, timeout_seconds)
        return send(*args, _request_timeout=limit, **kwargs)

    rest.request = request
    # kfp_server_api builds its PoolManager with urllib3's default Retry(3): a read that timed
    # out would be sent again. Pools made from here on take this instead.
    rest.pool_manager.connection_pool_kw["retries"] = urllib3.Retry(0, read=False)
    rest.pool_manager.clear()
    rest._approval_bot_bounded = True


def client_class() -> type[Any]:
    import kfp

    class BoundedClient(kfp.Client):  # type: ignore[misc]
        """kfp.Client whose calls all have a timeout (see the module docstring)."""

        def __init__(self, *, timeout_seconds: float, **kwargs: Any) -> None:
            self._timeout_seconds = timeout_seconds
            super().__init__(**kwargs)
            _bound(self._run_api.api_client, timeout_seconds)

        def get_kfp_healthz(self, sleep_duration: int = 5) -> Any:
            # Called by kfp.Client.__init__ (single-user KFP): once, bounded, no 5 x 5 s retry.
            _bound(self._healthz_api.api_client, self._timeout_seconds)
            return self._healthz_api.healthz_service_get_healthz()

    return BoundedClient


def connect(
    host: str | None,
    *,
    namespace: str | None = None,
    token: str | None = None,
    token_path: str | None = None,
    timeout_seconds: float = REQUEST_TIMEOUT_SECONDS,
) -> Any:
    """A kfp.Client for ``host`` (see the module docstring)."""
    kwargs: dict[str, Any] = {"host": host}
    if namespace:
        kwargs["namespace"] = namespace
    if token:
        kwargs["existing_token"] = token
    elif token_path:
        from kfp.client.set_volume_credentials import ServiceAccountTokenVolumeCredentials

        kwargs["credentials"] = ServiceAccountTokenVolumeCredentials(path=token_path)
    with warnings.catch_warnings():
        # "This client only works with Kubeflow Pipeline v2.0.0-beta.2 and later versions."
        warnings.simplefilter("ignore", FutureWarning)
        return client_class()(timeout_seconds=timeout_seconds, **kwargs)


def token_path_from_env() -> str | None:
    """``$KF_PIPELINES_SA_TOKEN_PATH`` (kfp's own name for it), when set."""
    from kfp.client import KF_PIPELINES_SA_TOKEN_ENV

    return os.environ.get(KF_PIPELINES_SA_TOKEN_ENV, "").strip() or None


def timed_out(error: BaseException) -> bool:
    """Whether ``error`` (from a call through ``connect``'s client) is a timeout."""
    import urllib3

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, (urllib3.exceptions.TimeoutError, TimeoutError)):
            return True
        reason = getattr(seen, "reason", None)
        seen = reason if isinstance(reason, BaseException) else seen.__cause__
    return False
