"""A load generator that is not the bottleneck: raw HTTP/1.1 over kept-alive connections.

    python -m benchmarks.loadgen HOST PORT REQUESTS_FILE CONCURRENCY  > latencies.json

``REQUESTS_FILE`` holds one complete raw request per line, base64-encoded (built, and
signed where needed, by the benchmark before the clock starts). The connections are opened
before the clock; each of ``CONCURRENCY`` workers sends its next request and reads the
response (status line, headers, ``Content-Length`` body) before the next. Printed: a JSON
object with the latencies in milliseconds and the status codes seen.

It runs in its own process, pinned to its own core where ``taskset`` is available, so the
server under test keeps the other one; ``benchmarks.floor`` measures this client against a
trivial app, which is its own floor.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"content-length":
            length = int(value.strip())
        elif key == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def run(host: str, port: int, requests: list[bytes], concurrency: int) -> dict[str, object]:
    conns = [await asyncio.open_connection(host, port) for _ in range(concurrency)]
    latencies: list[float] = []
    sent_at = [0.0] * len(requests)  # wall clock, to match what the server did next
    statuses: Counter[int] = Counter()
    next_index = 0

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal next_index
        while next_index < len(requests):
            index = next_index
            raw = requests[index]
            next_index += 1
            sent_at[index] = time.time()
            t0 = time.perf_counter()
            writer.write(raw)
            status = await _read_response(reader)
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses[status] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(r, w) for r, w in conns))
    elapsed = time.perf_counter() - started
    for _, writer in conns:
        writer.close()
    return {
        "latencies_ms": latencies,
        "sent_at": sent_at,
        "statuses": {str(k): v for k, v in statuses.items()},
        "elapsed_s": elapsed,
    }


def pct(values: list[float], p: int) -> float:
    """The p-th percentile (inclusive method: p100 is the largest value)."""
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def raw_request(
    method: str, path: str, host: str, body: bytes, headers: dict[str, str] | None = None
) -> bytes:
    """One complete HTTP/1.1 request, kept alive."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def load(
    host: str, port: int, requests: list[bytes], concurrency: int, workdir: Path, *, cpu: int = 1
) -> dict[str, object]:
    """Run the generator in its own process (on core ``cpu`` when taskset exists)."""
    path = workdir / f"requests-{time.monotonic_ns()}.b64"
    path.write_text("\n".join(base64.b64encode(r).decode() for r in requests))
    cmd = [sys.executable, "-m", "benchmarks.loadgen", host, str(port), str(path), str(concurrency)]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", str(cpu), *cmd]
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=root)
    path.unlink()
    result: dict[str, object] = json.loads(out.stdout)
    return result


def main() -> None:
    host, port, file, concurrency = sys.argv[1:5]
    requests = [base64.b64decode(line) for line in Path(file).read_text().splitlines() if line]
    result = asyncio.run(run(host, int(port), requests, int(concurrency)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
