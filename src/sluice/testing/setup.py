"""Session set-up: what runs against a fresh server before the tests see it.

Two ways in: the `sluice_setup` ini option names a script or a template, and the
`pytest_sluice_setup(sluice)` hook (in a conftest.py) runs Python. A CloudFormation/SAM template
(.yaml, .yml, .json, .template) is deployed as a stack named after the file (`deploy`); a script is
run by the runner registered for its file suffix in `RUNNERS` (an executable otherwise).
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


TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json", ".template")


def run_setup_script(path: Path, endpoint: str, deploy: Callable[[Path], object]) -> None:
    """Run `path` against the server at `endpoint` by its suffix's runner, or deploy it with
    `deploy` if it is a template (which raises StackDeployFailed, turned into SetupFailed)."""
    from .stacks import StackDeployFailed

    if not path.is_file():
        raise SetupFailed(f"set-up script {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in TEMPLATE_SUFFIXES and suffix not in RUNNERS:
        try:
            deploy(path)
        except StackDeployFailed as err:
            raise SetupFailed(str(err)) from None
        return
    (RUNNERS.get(suffix) or run_executable)(path, endpoint)
