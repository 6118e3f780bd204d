"""Start and stop a real `sluice up` process for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

from sluice.tools.child import terminate, wait_healthy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SluiceProcess:
    """A `sluice up` server on a free loopback port with its own data dir."""

    # Every server's log in this test process: a failed test shows what they wrote during it
    # (conftest.py), since pytest's temporary dirs, logs included, are soon deleted.
    logs: ClassVar[list[Path]] = []

    def __init__(self, data_dir: Path, *extra_args: str, port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.env = {**os.environ, **(env or {})}
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"sluice-{self.port}.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> SluiceProcess:
        cmd = [
            sys.executable, "-m", "sluice", "up",
            "--port", str(self.port), "--data-dir", str(self.data_dir), *self.extra_args,
        ]
        if self.log_path not in SluiceProcess.logs:
            SluiceProcess.logs.append(self.log_path)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child process owns it
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        wait_healthy(self.proc, self.endpoint, self.log_path, timeout)
        return self

    def stop(self) -> int | None:
        return terminate(self.proc) if self.proc else None

    def kill(self) -> None:
        """SIGKILL: no chance to flush or clean up."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
