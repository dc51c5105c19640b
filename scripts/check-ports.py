"""Can `make run` listen where it means to? Prints one line saying what is in the way, or nothing.

``python3 scripts/check-ports.py --host H --port P --mlflow-port M --data DIR``: the Makefile
runs it (standard library only, before the first install) when `make run` is asked for, and
stops with the line it prints. PORT is the bot's; MLFLOW_PORT is the local MLflow server's,
checked only when MLFLOW_TRACKING_URI is not set — an MLflow server already answering there is
fine (`make run` uses it). A port held by what an earlier `make run` started (its pid files
under DIR) is named as such, with `make stop`.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import urllib.request
from pathlib import Path


def free(host: str, port: int) -> bool:
    """Could a server bind ``host:port`` now (as uvicorn binds: SO_REUSEADDR)?"""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (http://127.0.0.1)
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


def left_running(data: Path, name: str) -> int | None:
    """The pid an earlier `make run` recorded for ``name`` (bot, mlflow), if it still runs."""
    try:
        pid = int((data / f"{name}.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def suggest(host: str, port: int, avoid: set[int]) -> int:
    """The next port after ``port`` that is free (else ``port + 1``)."""
    for candidate in range(port + 1, min(port + 200, 65536)):
        if candidate not in avoid and free(host, candidate):
            return candidate
    return port + 1


def problems(host: str, port: int, mlflow_port: int | None, data: Path) -> list[str]:
    found = []
    if mlflow_port == port:
        return [f"PORT and MLFLOW_PORT are both {port}: give them different values"]
    if not free(host, port):
        fix = f"`make run PORT={suggest(host, port, {mlflow_port or 0})}`"
        if (pid := left_running(data, "bot")) is not None:
            found.append(
                f"port {port} (PORT) is taken by the approval-bot `make run` started (pid {pid}): "
                f"stop it (Ctrl-C where it runs, or `make stop`), or choose another port with {fix}"
            )
        elif answers(f"http://{host}:{port}/readyz"):
            found.append(
                f"port {port} (PORT) is taken by an approval-bot already running (another "
                f"`make run`?): stop it, or choose another port with {fix}"
            )
        else:
            found.append(
                f"port {port} (PORT) on {host} is taken by another program: "
                f"choose another with {fix}"
            )
    # An MLflow server already answering on MLFLOW_PORT is fine: `make run` uses it.
    mlflow_in_the_way = (
        mlflow_port is not None
        and not free("127.0.0.1", mlflow_port)
        and not answers(f"http://127.0.0.1:{mlflow_port}/health")
    )
    if mlflow_in_the_way:
        assert mlflow_port is not None
        other = suggest("127.0.0.1", mlflow_port, {port})
        found.append(
            f"port {mlflow_port} (MLFLOW_PORT) is taken by a program that is not an MLflow "
            f"server: choose another with `make run MLFLOW_PORT={other}`"
        )
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--mlflow-port", required=True, type=int)
    parser.add_argument("--data", required=True, type=Path)
    args = parser.parse_args()
    mlflow_port = None if os.environ.get("MLFLOW_TRACKING_URI") else args.mlflow_port
    found = problems(args.host, args.port, mlflow_port, args.data)
    if found:
        print("run: " + "; ".join(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
