"""Start ``approval-bot serve`` inside the bot's image and time it until ``/readyz`` answers 200.

Used by scripts/offline-image-build.sh (``python3 /scripts/image-ready.py`` in the built image,
after ``approval-bot migrate`` made the SQLite database ``APPROVAL_BOT_DATABASE_URL`` names).
Prints ``ready_at=<unix time>`` (the host subtracts the time it started ``buildah run``) and
``ready_after=<seconds since this script started>``, then stops the server. Exits non-zero
with the server's output when it dies or is not ready within 120 s.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

DEADLINE_SECONDS = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (http only)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def main() -> int:
    started = time.monotonic()
    port = free_port()
    env = {**os.environ, "APPROVAL_BOT_LAUNCHER": "none", "APPROVAL_BOT_CONSOLE": "true"}
    command = ["approval-bot", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            while not ready(f"http://127.0.0.1:{port}/readyz"):
                if server.poll() is not None or time.monotonic() - started > DEADLINE_SECONDS:
                    log.seek(0)
                    sys.stderr.write(log.read().decode(errors="replace")[-3000:])
                    print("image-ready: the server did not get ready", file=sys.stderr)
                    return 1
                time.sleep(0.02)
            print(f"ready_at={time.time():.3f}")
            print(f"ready_after={time.monotonic() - started:.2f}")
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
