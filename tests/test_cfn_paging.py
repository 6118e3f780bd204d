"""NextToken pages of ListStacks, DescribeStacks and ListStackResources on a real server (its
own: the 101 stacks made here would page other tests' DescribeStacks), read with boto3's
paginators as AWS users read them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import make_client, wait_for
from .server import SluiceProcess


@pytest.fixture(scope="module")
def cfn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    server = SluiceProcess(Path(tmp_path_factory.mktemp("cfn-paging")) / "data").start()
    try:
        yield make_client("cloudformation", server.endpoint)
    finally:
        server.stop()


def _topics(count: int) -> str:
    return json.dumps({"Resources": {f"Topic{i:03d}": {"Type": "AWS::SNS::Topic"} for i in range(count)}})


def test_list_stacks_and_describe_stacks_page_at_100(cfn: Any) -> None:
    # A CREATE change set makes a stack in REVIEW_IN_PROGRESS without deploying anything.
    for i in range(101):
        cfn.create_change_set(StackName=f"paged-{i:03d}", ChangeSetName="c", ChangeSetType="CREATE",
                              TemplateBody=_topics(1))

    first = cfn.list_stacks()
    assert len(first["StackSummaries"]) == 100 and first["NextToken"]
    rest = cfn.list_stacks(NextToken=first["NextToken"])
    assert len(rest["StackSummaries"]) == 1 and "NextToken" not in rest
    names = [s["StackName"] for page in cfn.get_paginator("list_stacks").paginate() for s in page["StackSummaries"]]
    assert sorted(names) == [f"paged-{i:03d}" for i in range(101)]
    # Newest first; a stack made between two pages shifts nothing on the next page.
    assert names[0] == "paged-100"
    cfn.create_change_set(StackName="paged-late", ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=_topics(1))
    assert cfn.list_stacks(NextToken=first["NextToken"])["StackSummaries"] == rest["StackSummaries"]

    described = [s["StackName"] for page in cfn.get_paginator("describe_stacks").paginate() for s in page["Stacks"]]
    assert len(described) == 102 and len(set(described)) == 102
    filtered = cfn.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])
    assert filtered["StackSummaries"] == [] and "NextToken" not in filtered

    with pytest.raises(cfn.exceptions.ClientError) as bad:
        cfn.list_stacks(NextToken="not-a-token")
    assert bad.value.response["Error"] == {"Type": "Sender", "Code": "ValidationError", "Message": "Invalid NextToken"}


def test_list_stack_resources_pages_at_100(cfn: Any) -> None:
    cfn.create_stack(StackName="many-topics", TemplateBody=_topics(101))

    def ended() -> str | None:
        status = str(cfn.describe_stacks(StackName="many-topics")["Stacks"][0]["StackStatus"])
        return None if status.endswith("_IN_PROGRESS") else status

    assert wait_for(ended, timeout=60) == "CREATE_COMPLETE"
    first = cfn.list_stack_resources(StackName="many-topics")
    assert len(first["StackResourceSummaries"]) == 100 and first["NextToken"]
    logical = [r["LogicalResourceId"] for page in cfn.get_paginator("list_stack_resources").paginate(
        StackName="many-topics") for r in page["StackResourceSummaries"]]
    assert sorted(logical) == [f"Topic{i:03d}" for i in range(101)]
    # Events page too (DescribeStackEvents: 100 a page): 101 resources make over 300 events.
    events = [e for page in cfn.get_paginator("describe_stack_events").paginate(StackName="many-topics")
              for e in page["StackEvents"]]
    assert len({e["EventId"] for e in events}) == len(events) > 300
