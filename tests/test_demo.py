"""`sluice demo` and examples/s3-event-processor/walkthrough.sh, run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .server import SluiceProcess

ROOT = Path(__file__).resolve().parent.parent
WALKTHROUGH = ROOT / "examples" / "s3-event-processor" / "walkthrough.sh"


def test_demo_runs_the_pipeline() -> None:
    proc = subprocess.run([sys.executable, "-m", "sluice", "demo"], capture_output=True, text=True,
                          timeout=90, stdin=subprocess.DEVNULL)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    # the successful run: the uploaded file's content in the function's log
    assert "Contenu du fichier bonjour.txt : Bonjour depuis Sluice : premier fichier traité." in out
    assert "outcome: Success after 1 attempt(s)" in out
    # the failing upload: three attempts, 1 s then 2 s apart, then the DLQ
    for n in (1, 2, 3):
        assert f"attempt {n}:" in out
    assert "attempt 4:" not in out
    assert "next attempt in" in out and "(1 min on AWS)" in out and "(2 min on AWS)" in out
    assert out.count("Erreur lors du traitement du fichier image.bin") == 3
    assert "outcome: RetriesExhausted after 3 attempts" in out
    assert "RequestID (String): " in out
    assert "ErrorCode (Number): 200" in out
    assert "ErrorMessage (String): 'utf-8' codec can't decode byte 0xff" in out
    assert "OK: the pipeline behaved as on AWS" in out


@pytest.fixture
def fast_sluice(tmp_path: Path) -> Iterator[SluiceProcess]:
    """The walkthrough's retries wait 1 and 2 minutes; the shared `sluice` fixture runs at real
    speed (3 minutes for one test) and its fixed names would collide, so this one gets its own
    server at --time-scale 60."""
    server = SluiceProcess(tmp_path / "data", "--time-scale", "60").start()
    yield server
    server.stop()


def test_walkthrough_script(fast_sluice: SluiceProcess) -> None:
    env = os.environ.copy()
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")  # this venv's aws, sluice
    env["SLUICE"] = fast_sluice.endpoint
    env.pop("AWS_ENDPOINT_URL", None)
    proc = subprocess.run(["bash", str(WALKTHROUGH)], capture_output=True, text=True, env=env, timeout=90,
                          stdin=subprocess.DEVNULL)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "Contenu du fichier bonjour.txt : Bonjour depuis Sluice : premier fichier traité." in out
    assert '"RequestID"' in out and '"ErrorCode"' in out and '"ErrorMessage"' in out
    assert "'utf-8' codec can't decode byte 0xff" in out
    assert out.count("Erreur lors du traitement du fichier image.bin") == 3


def test_demo_runs_the_examples_handler_unchanged() -> None:
    """The demo embeds the example's handler (it must run from an installed package): same code."""
    import ast

    from sluice.demo import HANDLER_SOURCE

    def code(source: str) -> str:
        tree = ast.parse(source)
        if tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Constant):
            tree.body = tree.body[1:]  # the docstrings may differ
        return ast.dump(tree)

    example = (Path(__file__).resolve().parent.parent / "examples" / "s3-event-processor" / "handler.py").read_text()
    assert code(HANDLER_SOURCE) == code(example)
