"""Emulator processes for the benchmarks: start Sluice or moto on a free loopback port, wait
until it answers, and stop it with everything it started."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_tree(root: int) -> list[tuple[int, str]]:
    """`root` and its descendants as (pid, start time), found through /proc/*/stat."""
    children: dict[int, list[int]] = {}
    started: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(pid)
        started[pid] = fields[19]
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append((pid, started.get(pid, "")))
        todo.extend(children.get(pid, []))
    return tree


def kill_survivors(tree: list[tuple[int, str]]) -> None:
    """SIGKILL processes of a snapshot that are still the same processes (same start time).

    Execution environments run in process groups of their own, so stopping the server's group
    does not reach them if the server dies without stopping them.
    """
    for pid, started in tree:
        with contextlib.suppress(OSError, IndexError):
            now = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
            if now == started:
                os.kill(pid, signal.SIGKILL)


@dataclass
class Server:
    """One emulator process, in its own session so its whole process group can be stopped."""

    name: str
    cmd: list[str]
    port: int
    ready_path: str
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = START_TIMEOUT) -> None:
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                self.cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with code {self.proc.returncode}\n{self.log_tail()}")
            if self._is_ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"not ready after {timeout:.0f} s\n{self.log_tail()}")

    def _is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint + self.ready_path, timeout=2) as resp:
                resp.read()
                return int(resp.status) == 200
        except OSError:
            return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        tree = process_tree(self.proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        # Whatever is left of the server's process group (a hung server, stray children).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        kill_survivors(tree[1:])

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join("    " + line for line in text.splitlines()[-lines:])


def sluice_server(workdir: Path, label: str = "sluice", *extra: str) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "sluice", "up", "--port", str(port), "--data-dir", str(workdir / f"data-{label}"),
           *extra]
    return Server(label, cmd, port, "/_sluice/health", workdir / f"{label}.log")


def moto_server(workdir: Path) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    return Server("moto", cmd, port, "/moto-api/data.json", workdir / "moto.log")
