"""What `sluice up` leaves for later: botocore's models, awscrt, the console and the services a
server may never see (IAM, STS, CloudFormation, CloudWatch, SNS) load on their first use, and work
the same then. No timing is asserted: what is imported is."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from sluice.clock import ManualClock
from sluice.reset import Reset
from sluice.server import Sluice
from sluice.services.base import Service
from sluice.services.deferred import DeferredService, deferred

from .conftest import make_client
from .manual_clock import ctx, run_manual

# Imported by nothing a fresh server does before its first request. (The enforcer is not among
# them: plain mode authorizes every request, as AWS does without identity policies.)
LATER = ("botocore", "awscrt", "jinja2", "sluice.console.app", "sluice.services.iam.service",
         "sluice.services.sts.service", "sluice.services.cloudformation.service",
         "sluice.services.cloudformation.providers.catalog", "sluice.engine.stack_steps",
         "sluice.services.cloudwatch.service", "sluice.services.sns.service", "sluice.services.logs.service",
         "sluice.services.events.service")

_BUILD = """
import json, sys
from pathlib import Path
from sluice.reset import Reset
from sluice.server import Sluice
from sluice.settings import Settings
app = Sluice.build(Settings(data_dir=Path(sys.argv[1])))
app.close()
print(json.dumps(sorted(m for m in sys.modules if m in json.loads(sys.argv[2]))))
"""


def test_building_a_server_imports_none_of_what_waits_for_a_request(tmp_path: Path) -> None:
    # A child interpreter: this one has imported everything already.
    done = subprocess.run([sys.executable, "-c", _BUILD, str(tmp_path / "data"), json.dumps(LATER)],
                          capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == []


_UVICORN = """
import json, sys
from sluice.uvicorn_parts import enter_package
enter_package()
import sluice.server
before = sorted(m for m in ("uvicorn.main", "click", "multiprocessing") if m in sys.modules)
import uvicorn
import uvicorn.config
from uvicorn import main
print(json.dumps([before, uvicorn.run.__module__, callable(main), uvicorn.Config is uvicorn.config.Config]))
"""


def test_the_server_imports_uvicorn_without_its_command_line_and_the_package_stays_whole() -> None:
    done = subprocess.run([sys.executable, "-c", _UVICORN], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == [[], "uvicorn.main", True, True]



def test_a_uvicorn_laid_out_otherwise_is_imported_the_usual_way(tmp_path: Path) -> None:
    # A uvicorn whose modules want more of the package than Config and Server: the shortcut
    # steps aside and the whole package is imported as usual.
    package = tmp_path / "uvicorn"
    package.mkdir()
    (package / "__init__.py").write_text("MARK = 'whole'\nfrom uvicorn.config import Config\n"
                                         "from uvicorn.server import Server\n")
    (package / "config.py").write_text("import uvicorn\nassert uvicorn.__dict__.get('MARK')\nclass Config: pass\n")
    (package / "server.py").write_text("class Server: pass\n")
    script = ("import sys; sys.path.insert(0, sys.argv[1])\n"
              "from sluice.uvicorn_parts import enter_package\nenter_package()\n"
              "import uvicorn\nprint(uvicorn.MARK, uvicorn.Config.__module__)")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.split() == ["whole", "uvicorn.config"]

def test_services_built_late_answer_their_first_requests(endpoint: str) -> None:
    iam = make_client("iam", endpoint)
    iam.create_user(UserName="late-user")
    assert make_client("sts", endpoint).get_caller_identity()["Account"] == "000000000000"
    cw = make_client("cloudwatch", endpoint)
    cw.put_metric_alarm(AlarmName="late-alarm", MetricName="M", Namespace="Test/late", Statistic="Sum",
                        Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
    assert [a["AlarmName"] for a in cw.describe_alarms(AlarmNames=["late-alarm"])["MetricAlarms"]] == ["late-alarm"]
    cfn = make_client("cloudformation", endpoint)
    with pytest.raises(cfn.exceptions.ClientError) as err:
        cfn.describe_stacks(StackName="never-made")
    assert err.value.response["Error"]["Message"] == "Stack with id never-made does not exist"
    with urllib.request.urlopen(f"{endpoint}/_sluice/console/", timeout=30) as page:  # the console's first page
        assert page.status == 200
        assert b"<html" in page.read().lower()


def _call(service: Any, operation: str, **params: Any) -> Any:
    fn = service.operation(operation)
    assert fn is not None, operation
    return fn(ctx("cloudwatch"), **params)


def test_cloudwatch_is_built_for_alarms_an_earlier_run_stored_and_not_otherwise(tmp_path: Path) -> None:
    async def never_used(app: Sluice, clock: ManualClock) -> None:
        cloudwatch = app.services["cloudwatch"]
        assert isinstance(cloudwatch, DeferredService)
        await clock.advance(60)  # six evaluation times pass: no alarm stored, nothing built
        assert not cloudwatch.is_built

    run_manual(tmp_path, never_used)

    async def store_an_alarm(app: Sluice, clock: ManualClock) -> None:
        cw = app.services["cloudwatch"]
        _call(cw, "PutMetricAlarm", AlarmName="stored", MetricName="Jobs", Namespace="Test/Late", Statistic="Sum",
              Period=60, EvaluationPeriods=1, Threshold=5, ComparisonOperator="GreaterThanThreshold")
        _call(cw, "PutMetricData", Namespace="Test/Late", MetricData=[{"MetricName": "Jobs", "Value": 10}])

    run_manual(tmp_path, store_an_alarm)

    async def evaluated_after_the_restart(app: Sluice, clock: ManualClock) -> None:
        cloudwatch = app.services["cloudwatch"]
        assert isinstance(cloudwatch, DeferredService)
        assert not cloudwatch.is_built
        await clock.advance(10)  # the first evaluation: the stored alarm needs the service
        assert cloudwatch.is_built
        [alarm] = _call(cloudwatch, "DescribeAlarms", AlarmNames=["stored"])["MetricAlarms"]
        assert alarm["StateValue"] == "ALARM"

    run_manual(tmp_path, evaluated_after_the_restart)


class _Plain(Service):
    name = "plain"


class _Started(Service):
    name = "started"

    async def start(self) -> None:
        pass


def test_a_deferred_service_is_built_once_whichever_thread_asks_first() -> None:
    builds: list[_Plain] = []
    gate = threading.Barrier(8)

    def build() -> _Plain:
        builds.append(_Plain())
        return builds[-1]

    late = deferred("plain", build)
    assert late.name == "plain" and not late.is_built
    late.reset()  # nothing built, nothing to forget
    assert not builds

    def first_use() -> None:
        gate.wait()
        late.built()

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and late.built() is builds[0]


def test_only_a_service_without_start_work_or_fresh_rows_may_wait() -> None:
    with pytest.raises(TypeError, match="cannot be deferred"):
        deferred("started", _Started).built()
    with pytest.raises(TypeError, match="built 'plain'"):
        deferred("other", _Plain).built()


def _op(service: Any, name: str, operation: str, **params: Any) -> Any:
    fn = service.operation(operation)
    assert fn is not None, operation
    return fn(ctx(name), **params)


def test_eventbridge_is_built_for_a_schedule_an_earlier_run_stored_and_not_otherwise(tmp_path: Path) -> None:
    async def never_used(app: Sluice, clock: ManualClock) -> None:
        events = app.services["events"]
        assert isinstance(events, DeferredService)
        await clock.advance(300)  # five minutes: no rule stored, nothing due, nothing built
        assert not events.is_built
        await Reset(app.store, app.services, app.engine)()  # writes the default bus all the same
        assert not events.is_built
        assert [b["Name"] for b in _op(events, "events", "ListEventBuses")["EventBuses"]] == ["default"]

    run_manual(tmp_path, never_used)

    async def store_a_schedule(app: Sluice, clock: ManualClock) -> None:
        _op(app.services["sqs"], "sqs", "CreateQueue", QueueName="late-events")
        events = app.services["events"]
        _op(events, "events", "PutRule", Name="tick", ScheduleExpression="rate(1 minute)")
        _op(events, "events", "PutTargets", Rule="tick",
            Targets=[{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:000000000000:late-events"}])

    run_manual(tmp_path, store_a_schedule)

    async def fired_after_the_restart(app: Sluice, clock: ManualClock) -> None:
        events, sqs = app.services["events"], app.services["sqs"]
        assert isinstance(events, DeferredService)
        assert not events.is_built
        await clock.advance(60)  # the stored schedule's first fire: it needs the service
        assert events.is_built
        url = _op(sqs, "sqs", "GetQueueUrl", QueueName="late-events")["QueueUrl"]
        [message] = (await _op(sqs, "sqs", "ReceiveMessage", QueueUrl=url))["Messages"]  # answered on the loop
        assert json.loads(message["Body"])["resources"] == ["arn:aws:events:us-east-1:000000000000:rule/tick"]

    run_manual(tmp_path, fired_after_the_restart)


def test_requests_made_with_the_test_key_do_not_build_iam(tmp_path: Path) -> None:
    # Plain mode checks the signatures of keys with a secret of their own, which only IAM can
    # say for a key it may have issued: asking must not build IAM for `test`, the common key.
    async def scenario(app: Sluice, clock: ManualClock) -> None:
        iam = app.services["iam"]
        assert isinstance(iam, DeferredService)
        callers = app.gateway.callers
        assert callers.verifier_for("test") is None
        assert callers.verifier_for("123456789012") is None  # an account id as key: its root, unchecked
        assert not iam.is_built
        key = _op(iam, "iam", "CreateAccessKey", UserName=_op(iam, "iam", "CreateUser", UserName="u")["User"]
                  ["UserName"])["AccessKey"]["AccessKeyId"]
        assert callers.verifier_for(key) is not None  # IAM's own key: its signature is checked

    run_manual(tmp_path, scenario)
