"""The server under test: started pinned to core 0, its CPU time, memory and profile."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.processes import http_responds, running_process

ROOT = Path(__file__).resolve().parent.parent


def pinned(cmd: list[str], cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu), *cmd] if shutil.which("taskset") else cmd


@contextmanager
def serving(
    name: str, cmd: list[str], env: dict[str, str], ready: str, work: Path
) -> Iterator[int]:
    """A server on core 0 (the load generator takes core 1); yields its pid."""
    with running_process(
        pinned(cmd, 0),
        log_path=work / f"{name}.log",
        env=env,
        cwd=ROOT,
        ready=lambda: http_responds(ready, expect_status=None),
        description=f"{name} to answer",
        startup_timeout=120,
    ) as proc:
        yield proc.pid


def profiling(pid: int, label: str) -> Any:
    """With BENCH_PROFILE=DIR: py-spy samples the server (raw collapsed stacks into DIR)
    from now until sent SIGINT."""
    folder = os.environ.get("BENCH_PROFILE")
    spy = shutil.which("py-spy")
    if not folder or not spy:
        return None
    out = Path(folder) / (label.replace(" ", "_").replace(",", "").replace("+", "") + ".txt")
    cmd = [spy, "record", "--pid", str(pid), "-r", "100", "-f", "raw", "-o", str(out), "--gil"]
    return subprocess.Popen([*cmd, "--nonblocking"], stdout=subprocess.DEVNULL)


class CpuMeter:
    """CPU time (user + system) the server spends from now on, per request."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start = self.times()

    def times(self) -> tuple[float, float]:
        """User and system CPU seconds so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / tick, int(fields[12]) / tick

    def per(self, count: int) -> str:
        (user0, sys0), (user1, sys1) = self.start, self.times()
        used, system = user1 + sys1 - user0 - sys0, sys1 - sys0
        return (
            f"{used * 1000 / count:.1f} ms ({used:.1f} s in all, "
            f"{system / used if used else 0:.0%} of it in the kernel)"
        )


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024
