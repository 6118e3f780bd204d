"""Python runtimes as Lambda runs them: a handler sees its code, its layers and the runtime's own
libraries (awslambdaric, boto3) only, never Sluice's virtualenv; `python3.X` runs on Python 3.X
when this machine has it, and says so wherever a user looks when it does not."""

from __future__ import annotations

import io
import json
import os
import re
import sys
import textwrap
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sluice.runtime.python import OWN_VERSION, PYTHON_RUNTIMES, own_interpreter

from .conftest import make_client, wait_for
from .lambda_helpers import ROLE, create, unique
from .pipeline_helpers import sluice_cli
from .server import SluiceProcess

REPORTER = """
import os
import sys

import boto3


def handler(event, context):
    return {
        "version": "%d.%d" % sys.version_info[:2],
        "executable": sys.executable,
        "path": sys.path,
        "boto3": boto3.__file__,
        "boto3_version": boto3.__version__,
        "runtime_dir": os.environ["LAMBDA_RUNTIME_DIR"],
        "pythonpath": os.environ.get("PYTHONPATH"),
    }
"""


def invoke(lam: Any, name: str) -> tuple[dict[str, Any], Any]:
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    return response, json.loads(response["Payload"].read())


def zip_files(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path, source in files.items():
            z.writestr(path, textwrap.dedent(source))
    return buf.getvalue()


@pytest.fixture(scope="module")
def lam(endpoint: str) -> Any:
    return make_client("lambda", endpoint)


def test_a_package_of_sluices_virtualenv_is_not_importable(lam: Any) -> None:
    # pytest and uvicorn are in the virtualenv Sluice (and this test) run in; a function that
    # does not bundle them cannot import them on AWS, nor here.
    assert "pytest" in sys.modules
    name = create(lam, "import uvicorn\n\ndef handler(event, context):\n    return 'unreachable'\n")
    response, body = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'handler': No module named 'uvicorn'"
    name = create(lam, "import pytest\n\ndef handler(event, context):\n    return 'unreachable'\n")
    assert invoke(lam, name)[1]["errorMessage"] == "Unable to import module 'handler': No module named 'pytest'"


def test_boto3_comes_from_the_runtime_and_sys_path_is_in_lambdas_order(lam: Any) -> None:
    name = create(lam, REPORTER)
    response, out = invoke(lam, name)
    assert "FunctionError" not in response, out
    runtime_dir = out["runtime_dir"]
    assert out["boto3"] == os.path.join(runtime_dir, "boto3", "__init__.py")
    assert out["pythonpath"] == runtime_dir  # AWS's default PYTHONPATH: $LAMBDA_RUNTIME_DIR
    path = out["path"]
    # /var/task first, the runtime's libraries last, the interpreter's standard library between.
    assert path[0].endswith("/task") or os.path.isfile(os.path.join(path[0], "handler.py"))
    assert path[-1] == runtime_dir
    assert not any(p.startswith(sys.prefix) for p in path), path  # nothing of Sluice's virtualenv
    assert not any(p.endswith("site-packages") for p in path), path  # nor the interpreter's own
    assert "" not in path
    assert not out["executable"].startswith(sys.prefix)


def test_a_function_that_bundles_boto3_uses_its_own(lam: Any) -> None:
    code = zip_files({
        "handler.py": REPORTER,
        "boto3/__init__.py": "__version__ = '0.0.1-bundled'\n",
    })
    name = unique()
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
                        Code={"ZipFile": code})
    _, out = invoke(lam, name)
    assert out["boto3_version"] == "0.0.1-bundled"
    assert not out["boto3"].startswith(out["runtime_dir"])


@pytest.mark.parametrize("runtime", PYTHON_RUNTIMES)
def test_each_runtime_runs_on_its_version_or_says_which_it_runs_on(lam: Any, runtime: str) -> None:
    """On a machine with every Python (pyenv here; `make` builds their runtime libraries), each
    runtime runs on its own version; on one without, GetFunction says on which one it runs."""
    name = create(lam, REPORTER, Runtime=runtime)
    _, out = invoke(lam, name)
    config = lam.get_function(FunctionName=name)["Configuration"]
    assert config["State"] == "Active"
    wanted = runtime.removeprefix("python")
    if out["version"] == wanted:
        assert "StateReason" not in config
    else:
        assert config["StateReason"].startswith(f"{runtime} runs on Python {out['version']} ("), config


@pytest.fixture(scope="module")
def fallback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    """python3.12 given an interpreter that does not exist; python3.13 given Sluice's own Python
    (the `--python` mechanism, tested with an interpreter of another version, labelled so)."""
    proc = SluiceProcess(tmp_path_factory.mktemp("pyfallback") / "data",
                         "--python", "python3.12=/nonexistent/bin/python3.12",
                         "--python", f"python3.13={own_interpreter()}").start()
    yield proc
    proc.stop()


def _init_lines(endpoint: str, name: str) -> list[str]:
    logs = make_client("logs", endpoint)

    def lines() -> list[str]:
        streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
        if not streams:
            return []
        events = logs.get_log_events(logGroupName=f"/aws/lambda/{name}",
                                     logStreamName=streams[0]["logStreamName"])["events"]
        found = [e["message"] for e in events]
        return found if any(m.startswith("REPORT") for m in found) else []

    return wait_for(lines)


def test_a_missing_interpreter_falls_back_to_the_closest_and_says_so(fallback: SluiceProcess) -> None:
    lam = make_client("lambda", fallback.endpoint)
    name = create(lam, REPORTER, Runtime="python3.12")
    response, out = invoke(lam, name)
    assert "FunctionError" not in response, out
    ran = out["version"]
    assert ran != "3.12"
    note = (f"python3.12 runs on Python {ran} ({out['executable']}): "
            "/nonexistent/bin/python3.12 does not run")
    # GetFunction: still Active (it runs), the reason says how.
    config = lam.get_function(FunctionName=name)["Configuration"]
    assert (config["State"], config["StateReason"]) == ("Active", note)
    assert lam.get_function_configuration(FunctionName=name)["StateReason"] == note
    # The function's log stream, right after INIT_START.
    lines = _init_lines(fallback.endpoint, name)
    assert lines[0].startswith("INIT_START Runtime Version: python:3.12.sluice")
    assert lines[1] == f"SLUICE_NOTE {note}\n"
    # `sluice up`'s output.
    assert note in fallback.log_path.read_text()
    # `sluice status`.
    done = sluice_cli("status", endpoint=fallback.endpoint)
    assert f"note: {name}: {note}" in done.stdout.splitlines()
    # A runtime that has its interpreter says nothing.
    plain = create(lam, REPORTER, Runtime=f"python{OWN_VERSION}")
    assert "StateReason" not in lam.get_function(FunctionName=plain)["Configuration"]
    assert invoke(lam, plain)[1]["version"] == OWN_VERSION


def test_python_option_runs_a_runtime_on_the_interpreter_given_and_labels_it(fallback: SluiceProcess) -> None:
    lam = make_client("lambda", fallback.endpoint)
    name = create(lam, REPORTER, Runtime="python3.13")
    _, out = invoke(lam, name)
    assert out["version"] == OWN_VERSION
    assert out["executable"] == own_interpreter()
    # Its runtime libraries are those built for the interpreter's version, not for 3.13.
    assert re.search(rf"/python{re.escape(OWN_VERSION)}-awslambdaric-", out["runtime_dir"])
    assert lam.get_function(FunctionName=name)["Configuration"]["StateReason"] == (
        f"python3.13 runs on Python {OWN_VERSION} ({own_interpreter()}), as --python asked")


def test_layers_come_after_the_task_root_and_before_the_runtime(tmp_path: Path) -> None:
    """The merged layers directory (Lambda's /opt) on sys.path as AWS orders it; a module in
    the task root wins over one of the same name in a layer."""
    from .test_runtime import make_spec, request, with_pool, write

    task, opt = tmp_path / "task", tmp_path / "opt"
    write(task, "app.py", """
        import sys, shared, from_site, from_python
        def handler(event, context):
            return {"path": sys.path, "shared": shared.WHERE, "site": from_site.WHERE,
                    "python": from_python.WHERE}
    """)
    write(task, "shared.py", "WHERE = 'task'\n")
    site = opt / "python" / "lib" / "python3.12" / "site-packages"
    write(site, "shared.py", "WHERE = 'layer'\n")
    write(site, "from_site.py", "WHERE = 'site-packages'\n")
    write(opt / "python", "from_python.py", "WHERE = 'python'\n")
    spec = make_spec(task, layers_dir=opt)

    async def body(pool: Any, sink: Any) -> Any:
        return await pool.invoke(spec, request(spec))

    result, _ = with_pool(tmp_path, body)
    out = json.loads(result.payload)
    assert (out["shared"], out["site"], out["python"]) == ("task", "site-packages", "python")
    assert out["path"][:3] == [str(task), str(site), str(opt / "python")]


RESERVED_MESSAGE = (
    "Lambda was unable to configure your environment variables because the environment variables you have "
    "provided contains reserved keys that are currently not supported for modification. Reserved keys used "
    "in this request: {}")


def test_reserved_environment_keys_are_refused_at_create(lam: Any) -> None:
    name = unique()
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as caught:
        create(lam, REPORTER, name, Environment={"Variables": {
            "MINE": "1", "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIA", "_HANDLER": "x.y"}})
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Message"] == RESERVED_MESSAGE.format("AWS_REGION, AWS_ACCESS_KEY_ID, _HANDLER")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name)  # nothing was created


def test_reserved_environment_keys_are_refused_at_update_and_others_are_accepted(
        lam: Any, aws_cli: Any) -> None:
    name = create(lam, REPORTER, Environment={"Variables": {"KEEP": "1"}})
    done = aws_cli("lambda", "update-function-configuration", "--function-name", name,
                   "--environment", "Variables={AWS_DEFAULT_REGION=eu-west-1,LAMBDA_TASK_ROOT=/x}", check=False)
    assert done.returncode != 0
    assert ("An error occurred (InvalidParameterValueException) when calling the UpdateFunctionConfiguration "
            f"operation: {RESERVED_MESSAGE.format('AWS_DEFAULT_REGION, LAMBDA_TASK_ROOT')}") in done.stderr
    assert lam.get_function_configuration(FunctionName=name)["Environment"] == {"Variables": {"KEEP": "1"}}
    # Not reserved: a function may set its time zone, locale, PATH and PYTHONPATH, as on AWS.
    allowed = {"TZ": "Asia/Tokyo", "LANG": "C.UTF-8", "PYTHONPATH": "/extra", "AWS_LAMBDA_EXEC_WRAPPER": "/w"}
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": allowed})
    assert lam.get_function_configuration(FunctionName=name)["Environment"] == {"Variables": allowed}


def test_a_version_whose_runtime_libraries_are_not_built_falls_back(tmp_path: Path) -> None:
    """What a machine sees when `make` could not pip-install the runtime libraries for its other
    Pythons (no network): those versions count as absent; Sluice's own version is copied from
    its install, offline."""
    from sluice.runtime.python import discover

    choices = discover(root=tmp_path / "empty-cache")
    own = choices[f"python{OWN_VERSION}"]
    assert own.note is None and own.libs.parent == tmp_path / "empty-cache"
    assert (own.libs / "awslambdaric" / "__init__.py").is_file() and (own.libs / "boto3").is_dir()
    for runtime in PYTHON_RUNTIMES:
        if runtime == own.runtime:
            continue
        choice = choices[runtime]
        assert (choice.version, choice.libs) == (OWN_VERSION, own.libs)
        assert choice.note is not None and choice.note.startswith(
            f"{runtime} runs on Python {OWN_VERSION} ({own.interpreter}): ")
        assert choice.note.endswith(("`make runtimes` builds them", "interpreter on PATH or in pyenv"))


def test_discovery_in_the_background_gives_what_discover_gives() -> None:
    """`sluice up` probes interpreters on a thread so readiness does not wait for them: what the
    Lambda service then reads (choices and the notes GetFunction shows) is discover()'s answer,
    and the start-up log gets the choices once they are known."""
    from sluice.runtime.python import Discovery, Notes, discover

    told: list[dict[str, Any]] = []
    background = Discovery(on_done=lambda choices: told.append(dict(choices)))
    expected = discover()
    assert dict(background) == expected
    notes = Notes(background)
    assert dict(notes) == {runtime: c.note for runtime, c in expected.items() if c.note}
    wait_for(lambda: told, timeout=30)
    assert told == [expected]


def test_a_lookup_does_not_wait_out_the_delay_of_a_discovery_started_for_later() -> None:
    """`sluice up` probes half a second after it listens; a Lambda request before that probes at once."""
    from sluice.runtime.python import Discovery, discover

    later = Discovery(start=False)
    later.start(delay=3600)  # far longer than the guard below
    found: list[dict[str, Any]] = []
    lookup = threading.Thread(target=lambda: found.append(dict(later)), daemon=True)
    lookup.start()
    lookup.join(timeout=60)  # a guard against a hang, not a timing assertion
    assert found == [discover()]
