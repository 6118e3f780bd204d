"""Which Python interpreter runs each `python3.X` runtime, and the runtime libraries it gets.

Lambda's Python runtimes run handlers on that exact Python with AWS's runtime interface client
(awslambdaric) and boto3 in /var/runtime. Here:

- interpreter: `--python python3.X=PATH` if given, else `python3.X` on PATH (unless that is a
  script: a pyenv or asdf shim), else one installed by pyenv (its versions directory); each
  candidate is run once, all side by side, to learn its real version. Sluice's own Python serves
  its own version. A runtime with no interpreter of its version runs on the closest one there
  is, and says so (`PythonChoice.note`).
- runtime libraries: a directory per Python minor version holding awslambdaric (which has a C
  extension, so it must match the interpreter) and boto3, never Sluice's virtualenv. For
  Sluice's own version it is copied from the installed distributions (offline, ~1 s, once);
  for other versions `pip install --target` builds it with that interpreter, which needs the
  package index: `make` does it (`python -m sluice.tools.runtimes build`), `sluice up` never
  does. A version whose directory is missing counts as unavailable: its runtime falls back.

The directories live in a cache shared by every Sluice of the same versions
($SLUICE_RUNTIME_CACHE, else $XDG_CACHE_HOME/sluice/runtimes, else ~/.cache/sluice/runtimes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib import metadata

PYTHON_RUNTIMES = ("python3.9", "python3.10", "python3.11", "python3.12", "python3.13")
# What Lambda's Python runtimes put in /var/runtime for handlers (and what runs them).
RUNTIME_PACKAGES = ("awslambdaric", "boto3")
OWN_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
_PROBE = "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.executable)"
_PROBE_TIMEOUT = 15.0
_PIP_TIMEOUT = 600.0


@dataclass(frozen=True)
class PythonChoice:
    """How functions of one `python3.X` runtime run here."""

    runtime: str  # "python3.12"
    interpreter: str  # a real path, never a shim
    version: str  # the interpreter's own "3.X"
    libs: Path  # awslambdaric + boto3 for that version (Lambda's /var/runtime)
    note: str | None = None  # set when the interpreter is not the runtime's version

    @property
    def exact(self) -> bool:
        return self.version == self.runtime.removeprefix("python")


def cache_root() -> Path:
    configured = os.environ.get("SLUICE_RUNTIME_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sluice" / "runtimes"


def _installed_version(name: str) -> str:
    found = _dist_info_version(name)
    if found is not None:
        return found
    # Installed some other way (an .egg-info, a zip): ask importlib.metadata. Not first: with
    # zipfile, csv and email it stays resident, ~0.9 MB of an idle server's memory.
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "none"


def _dist_info_version(name: str) -> str | None:
    """`name`'s version from its `<name>-<version>.dist-info` directory on sys.path (how pip
    installs it), the first one found in sys.path's order, as importlib.metadata would."""
    wanted = _normalized(name)
    for entry in sys.path:
        try:
            listing = os.listdir(entry or ".")
        except OSError:  # a zip, a missing directory
            continue
        for item in listing:
            if item.endswith(".dist-info"):
                dist, _, version = item.removesuffix(".dist-info").partition("-")
                if version and _normalized(dist) == wanted:
                    return version
    return None


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def libs_dir(version: str, root: Path | None = None) -> Path:
    """The runtime libraries' directory for Python `version`, named after what it holds, so
    that an upgrade of Sluice's awslambdaric or boto3 builds a new one."""
    tag = "-".join(f"{name}-{_installed_version(name)}" for name in RUNTIME_PACKAGES)
    return (root or cache_root()) / f"python{version}-{tag}"


def _requirement_names(dist: metadata.Distribution) -> Iterable[str]:
    for requirement in dist.requires or ():
        if "extra ==" in requirement.replace('"', "").replace("'", ""):
            continue  # optional extras (boto3[crt]) are not part of the runtime
        match = re.match(r"[A-Za-z0-9._-]+", requirement)
        if match:
            yield match.group(0)


def _closure(names: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions `names` need, themselves included."""
    from importlib import metadata

    seen: dict[str, metadata.Distribution] = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        dist = metadata.distribution(name)
        seen[key] = dist
        pending.extend(_requirement_names(dist))
    return list(seen.values())


def _publish(staging: Path, dest: Path) -> None:
    """Renamed into place whole: a concurrent Sluice sees a complete directory or none."""
    staging.chmod(0o755)  # mkdtemp's 0700 would hide it from handlers run as another user
    try:
        staging.rename(dest)
    except OSError:
        if not dest.is_dir():
            raise
        shutil.rmtree(staging, ignore_errors=True)  # another Sluice built it first


def build_from_installed(dest: Path) -> Path:
    """Copy the runtime packages of the running Python (source, bytecode, metadata) to `dest`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for dist in _closure(RUNTIME_PACKAGES):
            for file in dist.files or ():
                if file.parts and file.parts[0] == "..":
                    continue  # console scripts and data outside site-packages
                source = Path(str(dist.locate_file(file)))
                if not source.is_file():
                    continue
                target = staging / file
                target.parent.mkdir(parents=True, exist_ok=True)
                # copy2 keeps mtimes, so the copied bytecode stays valid for its sources.
                shutil.copy2(source, target)
        _publish(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


def build_with_pip(interpreter: str, dest: Path) -> Path:
    """Install the runtime packages for another interpreter with its own pip (needs the index).
    Same versions as Sluice's own where that Python supports them, else pip's pick."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    pinned = [f"{name}=={_installed_version(name)}" for name in RUNTIME_PACKAGES]
    last_error = ""
    for wanted in (pinned, list(RUNTIME_PACKAGES)):
        staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        command = [interpreter, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   "--no-warn-script-location", "--target", str(staging), *wanted]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=_PIP_TIMEOUT,
                                  stdin=subprocess.DEVNULL, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise RuntimeError(f"{interpreter} -m pip: {exc}") from exc
        if done.returncode == 0:
            shutil.rmtree(staging / "bin", ignore_errors=True)
            _publish(staging, dest)
            return dest
        shutil.rmtree(staging, ignore_errors=True)
        lines = (done.stderr or done.stdout).strip().splitlines()
        last_error = lines[-1] if lines else f"exit status {done.returncode}"
    raise RuntimeError(f"{interpreter} -m pip install failed: {last_error}")


def probe(path: str) -> tuple[str, str] | None:
    """(version "3.X", real executable) of the interpreter at `path`, or None if it won't run."""
    return probe_all([path])[path]


def probe_all(paths: Iterable[str]) -> dict[str, tuple[str, str] | None]:
    """`probe` of every path, side by side (each is a process start): all are started, then
    read in turn, from this thread. Not a thread per probe: the threads' stacks and malloc
    arenas would stay in an idle server's memory."""
    started: dict[str, subprocess.Popen[str] | None] = {}
    for path in paths:
        try:
            started[path] = subprocess.Popen([path, "-S", "-c", _PROBE], stdout=subprocess.PIPE,
                                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
        except OSError:
            started[path] = None
    deadline = time.monotonic() + _PROBE_TIMEOUT
    found: dict[str, tuple[str, str] | None] = {}
    for path, proc in started.items():
        found[path] = None if proc is None else _probed(proc, path, max(0.0, deadline - time.monotonic()))
    return found


def _probed(proc: subprocess.Popen[str], path: str, timeout: float) -> tuple[str, str] | None:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None
    lines = out.split("\n")
    if proc.returncode != 0 or len(lines) < 2 or not re.fullmatch(r"3\.\d+", lines[0]):
        return None
    return lines[0], lines[1] or path


def own_interpreter() -> str:
    """The Python Sluice runs on, outside its virtualenv (whose bin/ must not be on PATH)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(base)


def _is_script(path: str) -> bool:
    """A script in front of an interpreter: a pyenv or asdf shim (~0.3 s per start, and it
    fails for a version that is not active); the interpreter behind it is found directly."""
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"#!"
    except OSError:
        return False


def _candidates(runtime: str) -> list[str]:
    found = []
    on_path = shutil.which(runtime)
    if on_path and not _is_script(on_path):
        found.append(on_path)
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    with contextlib.suppress(OSError):
        for entry in sorted((pyenv_root / "versions").iterdir(), reverse=True):
            binary = entry / "bin" / runtime
            if binary.is_file():
                found.append(str(binary))
    return found


def discover(overrides: dict[str, str] | None = None, *, root: Path | None = None,
             build: bool = False) -> dict[str, PythonChoice]:
    """A choice for every Python runtime. `build`: also pip-install missing runtime libraries
    for other versions (needs the package index; `make` does it, `sluice up` does not)."""
    overrides = overrides or {}
    own = PythonChoice("python" + OWN_VERSION, own_interpreter(), OWN_VERSION,
                       libs_dir(OWN_VERSION, root))
    if not own.libs.is_dir():
        try:
            build_from_installed(own.libs)
        except OSError:
            # A home without a writable cache (a locked-down CI user): the temp dir will do.
            root = Path(tempfile.gettempdir()) / f"sluice-runtimes-{os.getuid()}"
            own = dataclasses.replace(own, libs=libs_dir(OWN_VERSION, root))
            if not own.libs.is_dir():
                build_from_installed(own.libs)
    exact: dict[str, PythonChoice] = {}
    problems: dict[str, str] = {}
    paths_of = {runtime: [overrides[runtime]] if runtime in overrides else _candidates(runtime)
                for runtime in PYTHON_RUNTIMES
                if runtime in overrides or runtime.removeprefix("python") != OWN_VERSION}
    # Probed side by side: each is a process start, and `sluice up` waits for them all.
    unique = sorted({path for paths in paths_of.values() for path in paths})
    probes = probe_all(unique)
    for runtime in PYTHON_RUNTIMES:
        wanted = runtime.removeprefix("python")
        if runtime not in paths_of:
            exact[runtime] = own
            continue
        for path in paths_of[runtime]:
            probed = probes[path]
            if probed is None:
                problems[runtime] = f"{path} does not run"
                continue
            version, executable = probed
            libs = libs_dir(version, root)
            if not libs.is_dir() and version == OWN_VERSION:
                libs = own.libs
            elif not libs.is_dir() and build:
                try:
                    build_with_pip(executable, libs)
                except RuntimeError as exc:
                    problems[runtime] = str(exc)
                    continue
            if not libs.is_dir():
                problems[runtime] = (f"{executable} has no runtime libraries (awslambdaric, boto3) "
                                     f"built for Python {version}; `make runtimes` builds them")
                continue
            note = None
            if version != wanted:
                note = f"{runtime} runs on Python {version} ({executable}), as --python asked"
            exact[runtime] = PythonChoice(runtime, executable, version, libs, note)
            break
        else:
            problems.setdefault(runtime, f"no {runtime} interpreter on PATH or in pyenv")
    choices = dict(exact)
    for runtime in PYTHON_RUNTIMES:
        if runtime in choices:
            continue
        minor = int(runtime.rsplit(".", 1)[1])
        available = [c for c in exact.values() if c.exact] or [own]
        # The closest minor version; between two as close, the newer.
        nearest = min(available, key=lambda c: (abs(int(c.version.split(".")[1]) - minor),
                                                -int(c.version.split(".")[1])))
        choices[runtime] = PythonChoice(
            runtime, nearest.interpreter, nearest.version, nearest.libs,
            f"{runtime} runs on Python {nearest.version} ({nearest.interpreter}): "
            f"{problems.get(runtime, 'not available')}")
    return {runtime: choices[runtime] for runtime in PYTHON_RUNTIMES}


class Discovery(Mapping[str, PythonChoice]):
    """`discover`, run on a thread of its own, so that `sluice up` answers requests before every
    interpreter has been probed (each probe is a process start). It starts when this is made,
    or with `start=False` when `start()` is called (`sluice up`: `delay` seconds after the server
    listens, so that the probes, ~40 ms of CPU in four processes, compete neither with the
    start-up nor with a test's first requests) or at the first lookup, at once.
    A lookup waits for it: only a Lambda request in the server's first half second ever does.
    `on_done` is called on that thread with the choices once they are known."""

    def __init__(self, overrides: dict[str, str] | None = None,
                 on_done: Callable[[Mapping[str, PythonChoice]], None] | None = None, start: bool = True) -> None:
        self._choices: dict[str, PythonChoice] = {}
        self._done = threading.Event()
        self._on_done = on_done
        self._overrides = overrides
        self._started = False
        self._starting = threading.Lock()
        self._now = threading.Event()  # set: probe without waiting out the delay
        if start:
            self.start()

    def start(self, delay: float = 0.0) -> None:
        if delay <= 0:
            self._now.set()  # a lookup: a thread waiting out its delay starts probing now
        with self._starting:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run, args=(self._overrides, delay), name="sluice-python-discovery",
                         daemon=True).start()

    def _run(self, overrides: dict[str, str] | None, delay: float) -> None:
        self._now.wait(delay)  # real time: how long the probes keep out of the start's way
        try:
            self._choices = discover(overrides)
        finally:  # a failure leaves no choices: lookups say so (its traceback is on stderr)
            self._done.set()
        if self._on_done is not None:
            self._on_done(self._choices)

    def _known(self) -> dict[str, PythonChoice]:
        self.start()
        self._done.wait()
        if not self._choices:
            raise RuntimeError("finding the Python runtimes' interpreters failed (see the server's log)")
        return self._choices

    def __getitem__(self, runtime: str) -> PythonChoice:
        return self._known()[runtime]

    def __iter__(self) -> Iterator[str]:
        return iter(self._known())

    def __len__(self) -> int:
        return len(self._known())


class Notes(Mapping[str, str]):
    """runtime -> how it runs when not on its own Python version, read from `choices` when
    asked (they may still be being discovered when this is made)."""

    def __init__(self, choices: Mapping[str, PythonChoice]) -> None:
        self._choices = choices

    def _notes(self) -> dict[str, str]:
        return {runtime: choice.note for runtime, choice in self._choices.items() if choice.note}

    def __getitem__(self, runtime: str) -> str:
        return self._notes()[runtime]

    def __iter__(self) -> Iterator[str]:
        return iter(self._notes())

    def __len__(self) -> int:
        return len(self._notes())
