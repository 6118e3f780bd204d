"""The pytest plugin (entry point `pytest11: sluice`): a Sluice server for the session, its clock
under the test's control, isolation between tests, and helpers that read Sluice's records.

Fixtures: `sluice` (the session's server and its testing API), `aws` (boto3 clients pointed at
it), `sluice_clock` (the engine's manual clock). Nothing starts unless a test asks for one of
them: the plugin is loaded in every pytest run of an environment where Sluice is installed.

Options (ini, or the command line where said):
  sluice_server = thread | process   (--sluice-server) the server in a thread of the test process
                                     (default: ready in milliseconds) or a `sluice up` child
  sluice_reset = test | session      reset before each test (default) or keep state all session
  sluice_clock = manual | real       the engine's clock (default manual: time moves when advanced)
  sluice_time_scale = N              with sluice_clock = real: engine waits N times shorter
  sluice_setup = PATH                a script run, or a CloudFormation/SAM template deployed, on each
                                     fresh server (see pytest_sluice_setup)
Markers: `sluice_shared` (this test keeps the state before it), `sluice_time_scale(N)` (the manual
clock runs N times faster than real time during this test), `sluice_stack(path, name=,
parameters=)` (a template deployed before the test). Fixture `sluice_stack`: deploy from the test.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the server's modules load only when a test asks for a server
    from .client import ClockControl
    from .session import AwsClients, SluiceSession
    from .stacks import DeployedStack

_SESSION = pytest.StashKey["SluiceSession"]()
_RESETS = ("test", "session")
_CLOCKS = ("manual", "real")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sluice", "Sluice (local AWS pipeline) test server")
    group.addoption("--sluice-server", choices=("thread", "process"), default=None,
                    help="run the session's Sluice server in a thread of the test process or as a "
                         "`sluice up` child (ini: sluice_server; default thread)")
    parser.addini("sluice_server", "Sluice server mode: thread (default) or process", default="thread")
    parser.addini("sluice_reset", "reset Sluice's state before each test (test, default) or never (session)",
                  default="test")
    parser.addini("sluice_clock", "the engine's clock: manual (default) or real", default="manual")
    parser.addini("sluice_time_scale", "with sluice_clock = real: engine waits this many times shorter",
                  default="1")
    parser.addini("sluice_setup", "scripts run (.py, or an executable) or CloudFormation/SAM templates deployed "
                                  "(.yaml, .yml, .json, .template) on each fresh Sluice server",
                  type="paths", default=[])


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hooks

    pluginmanager.add_hookspecs(hooks)
    _server_modules_unrewritten(pluginmanager)


def _server_modules_unrewritten(pluginmanager: pytest.PytestPluginManager) -> None:
    """pytest marks every package of a plugin's distribution for assertion rewriting, i.e. the
    whole server here, whose asserts are not test assertions: rewriting its ~200 modules on import
    cost 1.3-2 s per pytest process (measured on the project's suite, bytecode not cached). Only
    the plugin's own modules need it. pytest has no public switch for this: the private set is
    looked up defensively, and pytest's default applies if it is not there."""
    hook = getattr(pluginmanager, "rewrite_hook", None)
    marked = getattr(hook, "_must_rewrite", None)
    if isinstance(marked, set) and "sluice" in marked:
        marked.discard("sluice")
        marked.add(__name__)
        cache = getattr(hook, "_marked_for_rewrite_cache", None)
        if isinstance(cache, dict):
            cache.clear()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sluice_shared: this test sees the Sluice state the tests before it "
                                       "left (no automatic reset)")
    config.addinivalue_line("markers", "sluice_time_scale(factor): during this test the manual clock runs "
                                       "`factor` times faster than real time")
    config.addinivalue_line("markers", "sluice_stack(path, name=None, parameters=None): deploy this "
                                       "CloudFormation/SAM template (path relative to the test file) before the test")


def _choice(config: pytest.Config, name: str, allowed: tuple[str, ...]) -> str:
    value = str(config.getini(name)).strip()
    if value not in allowed:
        raise pytest.UsageError(f"ini option {name} = {value!r}: one of {', '.join(allowed)}")
    return value


@pytest.fixture(scope="session")
def _sluice_session(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceSession]:
    from .servers import SERVER_MODES, start_server
    from .session import TEST_CREDENTIALS, SluiceSession
    from .setup import run_setup_script

    config = request.config
    mode = config.getoption("sluice_server") or _choice(config, "sluice_server", SERVER_MODES)
    clock = _choice(config, "sluice_clock", _CLOCKS)
    try:
        scale = float(config.getini("sluice_time_scale"))
    except ValueError:
        raise pytest.UsageError("ini option sluice_time_scale: a number") from None
    scripts: list[Path] = list(config.getini("sluice_setup"))

    root = tmp_path_factory.mktemp("sluice")
    started = time.perf_counter()
    server = start_server(mode, root / "data", clock, scale)
    ready = time.perf_counter() - started

    def setup(session: SluiceSession) -> None:
        for script in scripts:
            run_setup_script(script, session.endpoint, session.deploy_stack)
        config.hook.pytest_sluice_setup(sluice=session)

    session = SluiceSession(server, mode, clock, ready, setup)
    env = pytest.MonkeyPatch()
    try:
        # What the code under test reads: boto3 and the AWS CLI go to the server with test keys.
        env.setenv("AWS_ENDPOINT_URL", session.endpoint)
        env.setenv("AWS_ACCESS_KEY_ID", TEST_CREDENTIALS["aws_access_key_id"])
        env.setenv("AWS_SECRET_ACCESS_KEY", TEST_CREDENTIALS["aws_secret_access_key"])
        env.setenv("AWS_DEFAULT_REGION", session.region)
        env.setenv("AWS_REGION", session.region)
        for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"):  # a real account's
            env.delenv(name, raising=False)
        config.stash[_SESSION] = session
        session.prepare()
        yield session
    finally:
        session.clock.stop_scaling()
        server.stop()
        env.undo()


@pytest.fixture(scope="session")
def sluice(_sluice_session: SluiceSession) -> SluiceSession:
    """A Sluice server for the whole test session: random free port on 127.0.0.1, temporary data
    directory, started at first use and stopped at the end. Its endpoint, test credentials and
    region are exported (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY = test,
    AWS_DEFAULT_REGION/AWS_REGION), so code that builds `boto3.client("s3")` talks to it unchanged.
    Reset before each test. Helpers: outcome(request_id), event_outcome("bucket/key"),
    attempts("bucket/key"), journey("bucket/key"), queue_messages("queue"), clock, reset().

    Before each test that uses it, the server is reset to an empty state (then the session's
    set-up runs again), unless the test is marked `sluice_shared` or the ini says
    `sluice_reset = session`.

    Helpers that read Sluice's records instead of polling:
    `sluice.outcome(request_id)` (status "Success", "RetriesExhausted", ..., attempts, DLQ),
    `sluice.attempts("bucket/key")` (the attempts of the event that upload sent),
    `sluice.event_outcome("bucket/key")`, `sluice.journey("bucket/key")` (what `sluice trace`
    shows), `sluice.queue_messages("queue")` (without receiving them); `sluice.clock`, `sluice.reset()`.

    Stacks: `sluice.deploy_stack("template.yaml", name=None, parameters=None)` deploys a
    CloudFormation/SAM template (see the `sluice_stack` fixture), `sluice.stack_outputs("name")`
    reads a stack's outputs (no name: the only stack), `sluice.stack("name").resources` its
    physical ids. The ini option `sluice_setup = template.yaml` deploys one on each fresh server.
    """
    return _sluice_session


@pytest.fixture(scope="session")
def aws(_sluice_session: SluiceSession) -> AwsClients:
    """A factory of boto3 clients pointed at the session's server: `aws("s3")`, `aws("lambda")`,
    `aws("sqs", region="eu-west-1")`; test credentials, retries off."""
    return _sluice_session.aws


@pytest.fixture
def sluice_clock(_sluice_session: SluiceSession) -> Iterator[ClockControl]:
    """The engine's clock, under the test's control: `advance(minutes=3)` runs at once, in order,
    the retries, backoffs and evaluations due in those 3 minutes and returns when they are done;
    `run_until_idle()` runs what is due now; `now` is the engine time; `scaled(60)` lets it run 60x faster than real time.

    Engine time moves only when the test says:

    - `sluice_clock.advance(minutes=3)` (or seconds=, hours=) runs exactly the work due in that
      time (retries, backoffs, event-age expiries, schedules, alarm evaluations), in order, waiting
      at each step for the handlers running then, and returns when it is done;
    - `sluice_clock.run_until_idle()` runs what is due now; `sluice_clock.now` is the engine time;
    - `with sluice_clock.scaled(60):` lets time run 60 times faster than real time in the block.

    Handlers run in real time; an Invoke or an upload's first attempt runs at once, without advancing.
    """
    if _sluice_session.clock_mode != "manual":
        pytest.fail("sluice_clock needs the manual clock (ini: sluice_clock = manual)", pytrace=False)
    yield _sluice_session.clock
    _sluice_session.clock.stop_scaling()


@pytest.fixture(autouse=True)
def _sluice_isolation(request: pytest.FixtureRequest) -> Iterator[None]:
    """Before each test that uses the plugin's server: reset it (unless shared). Tests that do not
    use it (their own `sluice` fixture included) are left alone: their closure lacks _sluice_session."""
    if "_sluice_session" not in request.fixturenames:
        yield
        return
    session: SluiceSession = request.getfixturevalue("_sluice_session")
    shared = request.node.get_closest_marker("sluice_shared") is not None
    if not shared and _choice(request.config, "sluice_reset", _RESETS) == "test":
        session.fresh_state()
    session.used()
    _deploy_marked_stacks(request, session)
    marker = request.node.get_closest_marker("sluice_time_scale")
    if marker is None:
        yield
        return
    if session.clock_mode != "manual":
        pytest.fail("sluice_time_scale needs the manual clock (ini: sluice_clock = manual)", pytrace=False)
    with session.clock.scaled(float(marker.args[0] if marker.args else marker.kwargs["factor"])):
        yield


def _deploy_marked_stacks(request: pytest.FixtureRequest, session: SluiceSession) -> None:
    """The test's `sluice_stack` markers, outermost (module, class) first: deployed after the reset."""
    from .stacks import StackDeployFailed

    for marker in reversed(list(request.node.iter_markers("sluice_stack"))):
        if not marker.args:
            pytest.fail("sluice_stack(path, name=None, parameters=None): the template's path is missing", pytrace=False)
        try:
            session.deploy_stack(request.path.parent / marker.args[0], *marker.args[1:], **marker.kwargs)
        except StackDeployFailed as err:
            pytest.fail(f"sluice_stack: {err}", pytrace=False)


@pytest.fixture
def sluice_stack(request: pytest.FixtureRequest, _sluice_session: SluiceSession) -> Callable[..., DeployedStack]:
    """Deploy a CloudFormation/SAM template from the test: `stack = sluice_stack("template.yaml",
    name="app", parameters={"Stage": "test"})`, path relative to the test file. Deployed as
    `aws cloudformation package` + `deploy` would (local CodeUri/ContentUri/Code zipped and
    uploaded, every capability, an existing stack updated); returns once CREATE_COMPLETE (or
    UPDATE_COMPLETE) a `DeployedStack`: `.outputs` (OutputKey -> OutputValue), `.resources`
    (LogicalResourceId -> PhysicalResourceId), `.name`, `.stack_id`. A stack that rolls back
    raises `sluice.testing.StackDeployFailed` with the failed resources' reasons.

    The marker `@pytest.mark.sluice_stack("template.yaml", name=None, parameters=None)` (on a
    test, class or module) deploys before the test instead; `sluice.stack_outputs(name)` reads
    the outputs then. Stacks go with the next reset, like everything else."""
    base = request.path.parent

    def deploy(path: str | Path, name: str | None = None, parameters: Mapping[str, Any] | None = None,
               tags: Mapping[str, str] | None = None) -> DeployedStack:
        return _sluice_session.deploy_stack(base / path, name, parameters, tags)

    return deploy


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is None:
        return
    resets = session.timings.resets_ms
    line = f"sluice: {session.mode} server ready in {session.timings.ready_seconds * 1000:.0f} ms"
    if resets:
        line += f"; {len(resets)} resets, mean {sum(resets) / len(resets):.1f} ms, max {max(resets):.1f} ms"
    terminalreporter.write_line(line)
