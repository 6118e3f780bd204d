"""A Sluice server for a test session: in a thread of the test process, or a `sluice up` child.

The thread mode is the default: the server's modules are imported once by the test process and
building it is a matter of milliseconds (a child process pays the interpreter start and every
import again). The child mode isolates the server from the tests' process (its own GIL, its own
crash), at a few hundred milliseconds more.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Protocol

from ..tools.child import ServerFailed, terminate, wait_healthy

SERVER_MODES = ("thread", "process")


class Server(Protocol):
    """What the plugin needs of a running server."""

    endpoint: str
    data_dir: Path

    def stop(self) -> None: ...


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class ThreadServer:
    """Sluice built in this process and served by uvicorn on its own event loop in a thread.

    The port is bound before the thread starts (no race for a free port), the server is ready when
    uvicorn says it started, and `stop` runs the same graceful shutdown as `sluice up` on SIGTERM."""

    def __init__(self, data_dir: Path, clock: str = "manual", time_scale: float = 1.0,
                 timeout: float = 30.0) -> None:
        # Imported here: a test run that never starts a server does not pay for the server's modules.
        import uvicorn

        from ..server import STOP_GRACE_SECONDS, Sluice
        from ..settings import Settings

        self.data_dir = data_dir
        self._sock = _bound_socket()
        port = int(self._sock.getsockname()[1])
        self.endpoint = f"http://127.0.0.1:{port}"
        self.app = Sluice.build(Settings(port=port, data_dir=data_dir, clock=clock, time_scale=time_scale))
        config = uvicorn.Config(self.app.gateway, lifespan="on", access_log=False, log_config=None,
                                log_level="warning", server_header=False,
                                timeout_graceful_shutdown=STOP_GRACE_SECONDS)
        self._server = uvicorn.Server(config)
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sluice-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout  # real time: a guard against a server that never starts
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServerFailed(f"the in-process Sluice server did not start: {self._failure!r}")
            time.sleep(0.001)
        self.app.listening()  # as `sluice up` does once it listens (Python interpreters are probed)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # noqa: BLE001 - reported by the thread that waits for the start
            self._failure = exc

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=60)
        self._sock.close()
        self.app.close()


class ProcessServer:
    """A `sluice up` child process with its data in `data_dir` and its log beside it."""

    def __init__(self, data_dir: Path, clock: str = "manual", time_scale: float = 1.0,
                 timeout: float = 30.0) -> None:
        self.data_dir = data_dir
        with _bound_socket() as sock:
            port = int(sock.getsockname()[1])
        self.endpoint = f"http://127.0.0.1:{port}"
        self.log_path = data_dir.parent / "sluice.log"
        cmd = [sys.executable, "-m", "sluice", "up", "--port", str(port), "--data-dir", str(data_dir),
               "--clock", clock, "--time-scale", repr(time_scale)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_healthy(self.proc, self.endpoint, self.log_path, timeout)
        except ServerFailed:
            terminate(self.proc)
            raise

    def stop(self) -> None:
        terminate(self.proc)


def start_server(mode: str, data_dir: Path, clock: str = "manual", time_scale: float = 1.0) -> Server:
    """A running server of the given mode ("thread" or "process")."""
    if mode == "thread":
        return ThreadServer(data_dir, clock, time_scale)
    if mode == "process":
        return ProcessServer(data_dir, clock, time_scale)
    raise ValueError(f"unknown server mode {mode!r}; one of {', '.join(SERVER_MODES)}")
