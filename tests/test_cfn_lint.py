"""cfn-lint, AWS's template linter, passes on every template we ship or deploy in tests: the
example pipelines must deploy to AWS unchanged, and a template AWS would refuse proves nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CFN_LINT = Path(sys.executable).parent / "cfn-lint"  # installed by the test extra
TEMPLATES = sorted([*ROOT.glob("examples/*/template.yaml"), *ROOT.glob("tests/templates/*.yaml")])


def test_there_are_templates_to_lint() -> None:
    assert ROOT / "examples" / "s3-event-processor" / "template.yaml" in TEMPLATES


def test_cfn_lint_passes_on_every_template() -> None:
    # One run for all (cfn-lint takes seconds to start); its output names each failing file.
    done = subprocess.run([str(CFN_LINT), "--", *map(str, TEMPLATES)],
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stdout + done.stderr
