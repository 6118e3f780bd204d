"""Memory of an environment's process tree, read from /proc.

Lambda enforces memory with a cgroup; Sluice polls instead (no privileges needed, works in any
container). Reading one small /proc file costs tens of microseconds, but listing every process
costs milliseconds on some kernels, and /proc/<pid>/task/<tid>/children is often compiled out.
So the tree's members are rediscovered only now and then (`discover`), while the frequent polls
(`rss`) read the already known pids.
"""

from __future__ import annotations

import os
import time

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MIB = 1024 * 1024


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def rss_bytes(pid: int) -> int:
    """Resident set size of one process, 0 if it is gone."""
    data = _read(f"/proc/{pid}/statm")
    if not data:
        return 0
    fields = data.split()
    return int(fields[1]) * PAGE_SIZE if len(fields) > 1 else 0


def _hwm(status: bytes) -> int:
    start = status.find(b"VmHWM:")
    if start < 0:
        return 0
    parts = status[start : status.find(b"\n", start)].split()
    return int(parts[1]) * 1024 if len(parts) > 1 else 0


def peak_rss_bytes(pid: int) -> int:
    """The kernel's high-water mark of one process's RSS (VmHWM): catches spikes between polls."""
    data = _read(f"/proc/{pid}/status")
    return _hwm(data) if data else 0


_HAS_CHILDREN_FILES = os.path.exists(f"/proc/self/task/{os.getpid()}/children")
# Without children files every process in /proc must be read: one scan, shared by all
# environments, at most once per SCAN_MAX_AGE.
SCAN_MAX_AGE = 1.0
_scan: tuple[float, dict[int, int]] = (-SCAN_MAX_AGE, {})


def _children(pid: int) -> list[int]:
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for tid in tids:
        data = _read(f"/proc/{pid}/task/{tid}/children")
        if data:
            found.extend(int(x) for x in data.split())
    return found


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process, from a scan at most SCAN_MAX_AGE old."""
    global _scan
    now = time.monotonic()
    if now - _scan[0] < SCAN_MAX_AGE:
        return _scan[1]
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        data = _read(f"/proc/{name}/stat")
        if not data:
            continue
        # The command name may hold spaces and parentheses; fields resume after the last ')'.
        rest = data[data.rfind(b")") + 2 :].split()
        if len(rest) > 1:
            parents[int(name)] = int(rest[1])
    _scan = (now, parents)
    return parents


class ProcessTree:
    """The processes of one environment: its runtime process and every descendant."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.members: set[int] = {root}
        # Kept open and re-read with pread: opening a /proc file costs as much as reading it,
        # and this one is read after every invocation. The descriptor stays bound to this
        # process, so a recycled pid can never be misread.
        try:
            self._status_fd: int | None = os.open(f"/proc/{root}/status", os.O_RDONLY)
        except OSError:
            self._status_fd = None

    def peak_rss(self) -> int:
        """VmHWM of the root process (0 once it is gone)."""
        if self._status_fd is None:
            return 0
        try:
            return _hwm(os.pread(self._status_fd, 4096, 0))
        except OSError:
            return 0

    def close(self) -> None:
        if self._status_fd is not None:
            os.close(self._status_fd)
            self._status_fd = None

    def discover(self) -> None:
        """Find the root's current descendants (costly without CONFIG_PROC_CHILDREN: call rarely)."""
        members = {self.root}
        if _HAS_CHILDREN_FILES:
            frontier = [self.root]
            while frontier:
                pid = frontier.pop()
                for child in _children(pid):
                    if child not in members:
                        members.add(child)
                        frontier.append(child)
        else:
            parents = _parents()
            grew = True
            while grew:
                grew = False
                for pid, ppid in parents.items():
                    if ppid in members and pid not in members:
                        members.add(pid)
                        grew = True
        self.members = members

    def rss(self) -> int:
        """Current RSS of the whole tree, in bytes."""
        total = 0
        gone = []
        for pid in self.members:
            size = rss_bytes(pid)
            if size == 0 and pid != self.root:
                gone.append(pid)
            total += size
        for pid in gone:
            self.members.discard(pid)
        return total
