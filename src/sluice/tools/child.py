"""A `sluice up` child process: started on a free port, healthy or a clear error, stopped."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


class ServerFailed(Exception):
    """The server exited or never became healthy (the message holds its log)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ChildServer:
    """A `sluice up` child process on a free loopback port with its own temporary data directory
    (removed when it stops), for tools that need a server of their own (`sluice demo`)."""

    def __init__(self, *args: str, prefix: str = "sluice-") -> None:
        self.args = list(args)
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.log_path = self.dir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        cmd = [sys.executable, "-m", "sluice", "up", "--port", str(self.port),
               "--data-dir", str(self.dir / "data"), *self.args]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_healthy(self.proc, self.endpoint, self.log_path, timeout)

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_healthy(proc: subprocess.Popen[bytes], endpoint: str, log_path: Path, timeout: float = 30.0) -> None:
    """Until `GET /_sluice/health` answers 200 with JSON; ServerFailed (with the log) if it exits or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerFailed(f"sluice up exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(endpoint + "/_sluice/health", timeout=1) as r:
                if r.status == 200:
                    json.load(r)  # the health answer is JSON
                    return
        except OSError:
            time.sleep(0.05)
    raise ServerFailed("sluice up did not become healthy:\n" + log_path.read_text())


def terminate(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> int | None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout`; its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
