"""The fuzzed server and what every request is checked against.

For each request: an answer within the bound (or, when the client hung up mid-body, a closed
connection), no 5xx but Sluice's documented 501 NotImplemented and AWS's throttles, a well-formed
error body, no traceback in the server log, and the health endpoint still answering. The data
written before fuzzing is checked at the end of each run.
"""

from __future__ import annotations

import json
import re
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import cbor2
from botocore.session import get_session

from ..server import SluiceProcess
from .cases import ServiceSpec, deployment_package, implemented_operations
from .data import Kept, Playground
from .documents import DOCUMENTS
from .shapes import Inputs
from .stats import Stats
from .wire import Answer, Case, Hang, NoAnswer, exchange

BOUND = 10.0  # seconds: generous, a hang detector and not a timing assertion
INVOKE_BOUND = 30.0  # a synchronous Invoke may first start an execution environment

# The wire protocols Sluice accepts per service (SQS and CloudWatch kept their query-era one).
PROTOCOLS = {
    "s3": ["rest-xml"], "sqs": ["json", "json", "query"], "sns": ["query"], "lambda": ["rest-json"],
    "events": ["json"], "cloudwatch": ["smithy-rpc-v2-cbor", "json", "query"], "logs": ["json"],
    "iam": ["query"], "sts": ["query"], "cloudformation": ["query"],
}
# AWS's own 5xx answers a client must retry: allowed. Sluice answers unimplemented operations
# with 501 NotImplemented (documented); anything else 5xx is a server fault.
ALLOWED_5XX = {(501, "NotImplemented"), (503, "SlowDown"), (503, "ServiceUnavailable"),
               (503, "RequestThrottled"), (503, "Throttling"), (503, "ThrottlingException")}
_FORBIDDEN_REF = re.compile(rb"&#(x0*[0-8bcefBCEF]|x0*1[0-9a-fA-F]|0*[0-8]|0*1[1245789]|0*2[0-9]|0*3[01]);")
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|Exception in ASGI application|internal error in")


class Defect(AssertionError):
    """A request the server answered wrongly: Hypothesis shrinks it to the simplest such request."""


class ServerBroken(BaseException):
    """The server hangs or stopped answering: Hypothesis must not shrink (each try would wait the
    whole bound on a server that is gone), so this is not an Exception and ends the test at once."""


class FuzzTarget:
    def __init__(self, server: SluiceProcess) -> None:
        self.server = server
        self.host = "127.0.0.1"
        self.port = server.port
        self.kept = Kept(server.endpoint)
        self.playground = Playground(server.endpoint)
        self.stats = Stats()
        self._log_offset = 0
        self._specs: dict[str, ServiceSpec] = {}

    def prepare(self) -> None:
        self.kept.write()
        self.playground.ensure_all()
        self.new_log()

    def spec(self, service: str) -> ServiceSpec:
        if service not in self._specs:
            model = get_session().get_service_model(service)
            inputs = Inputs(self.playground.names(), {**DOCUMENTS, "ZipFile": deployment_package()})
            implemented = implemented_operations(service, model)
            self._specs[service] = ServiceSpec(service, model, PROTOCOLS[service], implemented, inputs,
                                               f"{self.host}:{self.port}")
        return self._specs[service]

    # -- one request ------------------------------------------------------------------------------

    def run(self, case: Case) -> None:
        """Send one case and check everything the server must hold to; raises Defect if not."""
        self.stats.cases += 1
        self.stats.operations[f"{case.service}.{case.operation}"] += 1
        self.stats.mutations.update(case.mutations or ["none"])
        bound = INVOKE_BOUND if "/invocations" in case.target else BOUND
        try:
            answer = exchange(self.host, self.port, case, bound)
        except Hang as exc:
            raise ServerBroken(f"HANG: {exc}\n{case.describe()}\n{self._health_note()}") from None
        except NoAnswer as exc:
            raise Defect(f"NO ANSWER: {exc}\n{case.describe()}\n{self.new_log()[-3000:]}") from None
        except ConnectionRefusedError:
            raise ServerBroken(f"REFUSED: the server is gone\n{case.describe()}\n{self.new_log()[-3000:]}") from None
        log = self.new_log()
        if answer is not None:
            self.stats.answered += 1
            self.stats.statuses[f"{answer.status // 100}xx"] += 1
            self._check_answer(case, answer, log)
        if _TRACEBACK.search(log):
            raise Defect(f"TRACEBACK in the server log\n{case.describe()}\n"
                         f"answer: {_short(answer)}\n{log[-4000:]}")
        self.check_health(case)
        if answer is not None and 200 <= answer.status < 300 and case.operation.startswith(("Delete", "Purge")):
            self.playground.ensure(case.service)

    def _check_answer(self, case: Case, answer: Answer, log: str) -> None:
        if answer.status >= 500:
            # A HEAD answer has no body to name its error: 501 is Sluice's NotImplemented.
            code = "NotImplemented" if case.method == "HEAD" and answer.status == 501 else error_code(answer)
            if (answer.status, code) not in ALLOWED_5XX:
                raise Defect(f"{answer.status} {code}\n{case.describe()}\nanswer: {_short(answer)}\n{log[-4000:]}")
        problem = malformed(answer)
        if problem:
            raise Defect(f"MALFORMED {problem}\n{case.describe()}\nanswer: {_short(answer)}")

    def check_health(self, case: Case | None = None) -> None:
        try:
            with urllib.request.urlopen(self.server.endpoint + "/_sluice/health", timeout=BOUND) as r:
                if r.status == 200 and json.load(r)["status"] == "ok":
                    return
                problem = f"health answered {r.status}"
        except OSError as exc:
            problem = f"health did not answer: {exc}"
        where = case.describe() if case else "(after the run)"
        raise ServerBroken(f"UNHEALTHY after a request: {problem}\n{where}\n{self.new_log()[-3000:]}")

    def _health_note(self) -> str:
        try:
            self.check_health()
            return "(the server is still healthy)"
        except ServerBroken as exc:
            return str(exc).splitlines()[0]

    def revive(self) -> None:
        """After a test broke the server: SIGKILL it and start it again on the same data, so the
        next tests still run (and the kept data is checked across a crash restart too)."""
        try:
            self.check_health()
            return
        except ServerBroken:
            pass
        self.server.kill()
        self.server.start()
        self._log_offset = self.server.log_path.stat().st_size
        self.playground.ensure_all()

    def new_log(self) -> str:
        path: Path = self.server.log_path
        with open(path, "rb") as f:
            f.seek(self._log_offset)
            data = f.read()
        self._log_offset += len(data)
        return data.decode("utf-8", "replace")

    def verify_kept(self) -> None:
        self.check_health()
        self.kept.verify()
        log = self.new_log()
        if _TRACEBACK.search(log):
            raise Defect(f"TRACEBACK in the server log after the run\n{log[-4000:]}")


def error_code(answer: Answer) -> str:
    if "x-amzn-errortype" in answer.headers:
        return answer.headers["x-amzn-errortype"].split(":")[0]
    m = re.search(rb"<Code>([^<]*)</Code>", answer.body)
    if m:
        return m.group(1).decode("utf-8", "replace")
    try:
        if answer.headers.get("content-type", "").startswith("application/cbor"):
            doc = cbor2.loads(answer.body)
        else:
            doc = json.loads(answer.body)
        return str(doc.get("__type") or doc.get("code") or "").rsplit("#", 1)[-1]
    except (ValueError, AttributeError, cbor2.CBORDecodeError):
        return ""


def malformed(answer: Answer) -> str | None:
    """Why this body cannot be read as its Content-Type says, if it cannot. Object and payload
    bodies (GetObject, Invoke) are the caller's bytes and are not checked."""
    body = answer.body
    if not body or (answer.status < 300 and ("last-modified" in answer.headers
                                             or "x-amz-executed-version" in answer.headers)):
        return None
    ctype = answer.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if ctype in ("application/xml", "text/xml"):
            # AWS writes characters XML 1.0 forbids (a key's control characters) as character
            # references, which strict parsers refuse: accept those, never the raw characters.
            ET.fromstring(_FORBIDDEN_REF.sub(b"?", body))
        elif ctype in ("application/json", "application/x-amz-json-1.0", "application/x-amz-json-1.1"):
            json.loads(body)
        elif ctype == "application/cbor":
            cbor2.loads(body)
    except (ET.ParseError, ValueError, cbor2.CBORDecodeError) as exc:
        return f"{ctype} body: {exc}"
    return None


def _short(answer: Answer | None) -> Any:
    if answer is None:
        return None
    return f"{answer.status} {answer.headers.get('content-type')} {answer.body[:800]!r}"
