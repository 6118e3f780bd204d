"""Session set-up: what runs against a fresh server before the tests see it.

Two ways in: the `sluice_setup` ini option names a script, and the `pytest_sluice_setup(sluice)`
hook (in a conftest.py) runs Python. Scripts are run by the runner registered for their file
suffix in `RUNNERS`; this is the extension point for templates (CloudFormation/SAM, with the
issue that brings them): register a runner for ".yaml"/".json" that deploys the file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

# A runner deploys or runs one file against the server at `endpoint`; it raises SetupFailed.
Runner = Callable[[Path, str], None]


class SetupFailed(Exception):
    """A set-up script failed (the message holds its output)."""


def _run(cmd: list[str], path: Path) -> None:
    # The session's environment already points AWS_ENDPOINT_URL and the test credentials at the
    # server (the plugin exported them), so an AWS CLI or boto3 script needs nothing more.
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=path.parent, env=os.environ.copy(), check=False)
    if proc.returncode != 0:
        raise SetupFailed(f"set-up script {path} exited with {proc.returncode}:\n{proc.stdout}{proc.stderr}")


def run_python(path: Path, endpoint: str) -> None:
    _run([sys.executable, str(path)], path)


def run_executable(path: Path, endpoint: str) -> None:
    if not os.access(path, os.X_OK):
        raise SetupFailed(f"set-up script {path} is not executable (chmod +x it, or use a .py script)")
    _run([str(path)], path)


RUNNERS: dict[str, Runner] = {".py": run_python}


def run_setup_script(path: Path, endpoint: str) -> None:
    """Run (or deploy) `path` against the server at `endpoint`, by its suffix's runner."""
    if not path.is_file():
        raise SetupFailed(f"set-up script {path} does not exist")
    runner = RUNNERS.get(path.suffix.lower())
    if runner is None and path.suffix.lower() in (".yaml", ".yml", ".json", ".template"):
        raise SetupFailed(f"{path}: deploying templates is not supported yet; use a script, or the "
                          "pytest_sluice_setup hook")
    (runner or run_executable)(path, endpoint)
