"""``errorscope serve`` in its own process for the benchmarks that go through HTTP."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(path: Path) -> Iterator[tuple[str, int]]:
    """``errorscope serve`` on a free loopback port until the block ends: (url, pid).
    Waits (up to 15 min) until it answers ``/api/info``."""
    import httpx

    port = free_port()
    exe = Path(sys.executable).with_name("errorscope")
    base = f"http://127.0.0.1:{port}"
    # the access log goes to a file: a pipe that nobody reads fills up and stalls the server
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [str(exe), "serve", "-w", str(path), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 900
            while True:
                try:
                    httpx.get(f"{base}/api/info", timeout=60).raise_for_status()
                    break
                except httpx.TransportError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise RuntimeError(f"no server: {log.read().decode()}") from None
                    time.sleep(0.5)
            yield base, proc.pid
        finally:
            proc.terminate()
            proc.wait(30)
