"""Child processes for tests: free ports, waiting on conditions with a deadline, clean shutdown.

Nothing here sleeps to synchronise: ``wait_for`` polls a condition until it holds or the
deadline passes, and fails fast when the process it waits for has already died.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for(
    condition: Callable[[], bool],
    *,
    timeout: float,
    description: str,
    interval: float = 0.1,
    abort: Callable[[], str | None] | None = None,
) -> None:
    """Poll ``condition`` until it returns true; raise ``TimeoutError`` after ``timeout`` seconds.

    ``abort`` is checked on every round; when it returns a message the wait stops at once with
    a ``RuntimeError`` (e.g. "the server process exited with code 1").
    """
    deadline = time.monotonic() + timeout
    while True:
        if abort is not None and (reason := abort()) is not None:
            raise RuntimeError(f"gave up waiting for {description}: {reason}")
        if condition():
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{description} did not happen within {timeout:.0f}s")
        time.sleep(interval)


def http_responds(url: str, *, expect_status: int | None = 200, timeout: float = 2.0) -> bool:
    """True when ``url`` answers (with ``expect_status``, or with any status when None)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return expect_status is None or response.status == expect_status
    except urllib.error.HTTPError as error:
        return expect_status is None or error.code == expect_status
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file (empty when it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@contextmanager
def running_process(
    command: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    ready: Callable[[], bool],
    description: str,
    startup_timeout: float = 60.0,
    stop_timeout: float = 10.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command``, wait until ``ready()`` holds, yield the process, then stop it.

    Output goes to ``log_path``; a failed start raises with the log's tail in the message.
    The process gets its own session so that stopping it also stops its workers.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(command),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
        )
    try:

        def exited() -> str | None:
            code = process.poll()
            return None if code is None else f"process exited with code {code}:\n{tail(log_path)}"

        try:
            wait_for(ready, timeout=startup_timeout, description=description, abort=exited)
        except TimeoutError as error:
            raise TimeoutError(f"{error}\n{tail(log_path)}") from None
        yield process
    finally:
        stop_process_group(process, timeout=stop_timeout)


def stop_process_group(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """SIGTERM the process's group (it leads its own session), then SIGKILL after ``timeout``."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, 15)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, 9)
        except ProcessLookupError:
            return
        process.wait(timeout=timeout)
