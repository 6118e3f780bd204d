"""Lambda layers through boto3 and the AWS CLI: the layers API with AWS's shapes and errors,
`Layers` on functions, and Python handlers importing what their layers bring."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
import stat
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsCli, make_client
from .lambda_helpers import ROLE, create, unique, zip_code
from .layer_helpers import layer_zip, publish
from .server import SluiceProcess

ACCOUNT_LAYER = "arn:aws:lambda:us-east-1:000000000000:layer"
CREATED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")

# A handler reporting what its layers gave it: modules from python/ and from the runtime's
# site-packages, the layers' bin/ on PATH and lib/ on the library path.
REPORT = """
import os, shutil
def handler(event, context):
    import shared, only_first, sitepkg
    return {"shared": shared.VALUE, "first": only_first.VALUE, "site": sitepkg.VALUE,
            "tool": shutil.which("layer-tool") is not None,
            "lib": any(os.path.exists(os.path.join(d, "libnothing.txt"))
                       for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d)}
"""


@pytest.fixture(scope="module")
def lam(endpoint: str) -> Any:
    return make_client("lambda", endpoint)


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    r = exc.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"]["Message"]


def invoke(lam: Any, name: str) -> Any:
    resp = lam.invoke(FunctionName=name, Payload=b"{}")
    body = json.loads(resp["Payload"].read())
    assert "FunctionError" not in resp, body
    return body


def two_layers(lam: Any) -> tuple[str, str]:
    """Two layer versions that both ship `shared`; the first also ships the rest REPORT imports."""
    first = publish(lam, unique("first"), {
        "python/shared.py": "VALUE = 'first'\n",
        "python/only_first.py": "VALUE = 'only in the first'\n",
        "python/lib/python3.12/site-packages/sitepkg.py": "VALUE = 'from site-packages'\n",
        "bin/layer-tool": "#!/bin/sh\necho tool\n",
        "lib/libnothing.txt": "a library folder\n",
    })["LayerVersionArn"]
    second = publish(lam, unique("second"), {"python/shared.py": "VALUE = 'second'\n"})["LayerVersionArn"]
    return first, second


# -- the layers API ------------------------------------------------------------------------------


def test_publish_get_list_delete(lam: Any) -> None:
    name = unique("layer")
    archive = layer_zip({"python/mod.py": "X = 1\n"})
    out = lam.publish_layer_version(LayerName=name, Content={"ZipFile": archive}, Description="d",
                                    CompatibleRuntimes=["python3.12", "python3.11"],
                                    CompatibleArchitectures=["x86_64"], LicenseInfo="MIT")
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert out["LayerArn"] == f"{ACCOUNT_LAYER}:{name}"
    assert out["LayerVersionArn"] == f"{ACCOUNT_LAYER}:{name}:1"
    assert out["Version"] == 1 and out["Description"] == "d" and out["LicenseInfo"] == "MIT"
    assert out["CompatibleRuntimes"] == ["python3.12", "python3.11"]
    assert out["CompatibleArchitectures"] == ["x86_64"]
    assert CREATED.match(out["CreatedDate"])
    assert out["Content"]["CodeSha256"] == base64.b64encode(hashlib.sha256(archive).digest()).decode()
    assert out["Content"]["CodeSize"] == len(archive)
    with urllib.request.urlopen(out["Content"]["Location"]) as r:  # noqa: S310 - Sluice's own URL
        assert r.read() == archive

    got = lam.get_layer_version(LayerName=name, VersionNumber=1)
    by_arn = lam.get_layer_version_by_arn(Arn=out["LayerVersionArn"])
    for answer in (got, by_arn):
        answer.pop("ResponseMetadata")
    out.pop("ResponseMetadata")
    assert got == out == by_arn
    assert lam.get_layer_version(LayerName=out["LayerArn"], VersionNumber=1)["Version"] == 1  # by layer ARN

    publish(lam, name, {"python/mod.py": "X = 2\n"}, CompatibleRuntimes=["nodejs22.x"])
    versions = lam.list_layer_versions(LayerName=name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]  # newest first
    assert set(versions[1]) == {"LayerVersionArn", "Version", "Description", "CreatedDate", "CompatibleRuntimes",
                                "LicenseInfo", "CompatibleArchitectures"}
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=name, CompatibleRuntime="python3.12")[
        "LayerVersions"]] == [1]
    assert lam.list_layer_versions(LayerName=name, CompatibleArchitecture="arm64")["LayerVersions"] == []

    def listed(**filters: Any) -> dict[str, Any] | None:
        layers = lam.list_layers(**filters)["Layers"]
        return next((item for item in layers if item["LayerName"] == name), None)

    latest = listed()
    assert latest is not None and latest["LayerArn"] == out["LayerArn"]
    assert latest["LatestMatchingVersion"]["Version"] == 2
    matching = listed(CompatibleRuntime="python3.12")
    assert matching is not None and matching["LatestMatchingVersion"]["Version"] == 1
    assert listed(CompatibleRuntime="java21") is None

    # Deleted versions disappear; their numbers are never given again; deleting twice is fine.
    assert lam.delete_layer_version(LayerName=name, VersionNumber=2)["ResponseMetadata"]["HTTPStatusCode"] == 204
    lam.delete_layer_version(LayerName=name, VersionNumber=2)
    with pytest.raises(ClientError) as exc:
        lam.get_layer_version(LayerName=name, VersionNumber=2)
    assert error(exc) == (404, "ResourceNotFoundException", "The resource you requested does not exist.")
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=name)["LayerVersions"]] == [1]
    assert publish(lam, name, {"python/mod.py": "X = 3\n"})["Version"] == 3


def test_listing_pages(lam: Any) -> None:
    name = unique("paged")
    for i in range(3):
        publish(lam, name, {"python/m.py": f"X = {i}\n"})
    first = lam.list_layer_versions(LayerName=name, MaxItems=2)
    assert [v["Version"] for v in first["LayerVersions"]] == [3, 2]
    rest = lam.list_layer_versions(LayerName=name, MaxItems=2, Marker=first["NextMarker"])
    assert [v["Version"] for v in rest["LayerVersions"]] == [1] and "NextMarker" not in rest
    paginated = lam.get_paginator("list_layers").paginate(PaginationConfig={"PageSize": 1})
    assert name in [item["LayerName"] for page in paginated for item in page["Layers"]]


def test_api_errors(lam: Any) -> None:
    with pytest.raises(ClientError) as exc:
        lam.get_layer_version(LayerName=unique("none"), VersionNumber=1)
    assert error(exc) == (404, "ResourceNotFoundException", "The resource you requested does not exist.")
    with pytest.raises(ClientError) as exc:
        lam.publish_layer_version(LayerName="bad name", Content={"ZipFile": layer_zip({"a.txt": "a"})})
    status, code, message = error(exc)
    assert (status, code) == (400, "ValidationException")
    assert message.startswith("1 validation error detected: Value 'bad name' at 'layerName' failed to satisfy")
    with pytest.raises(ClientError) as exc:
        lam.publish_layer_version(LayerName=unique("bad"), Content={"ZipFile": b"not a zip"})
    assert error(exc) == (400, "InvalidParameterValueException",
                          "Could not unzip uploaded file. Please check your file, then try to upload again.")
    with pytest.raises(ClientError) as exc:
        lam.get_layer_version_by_arn(Arn="arn:aws:lambda:us-east-1:000000000000:function:f")
    assert error(exc)[:2] == (400, "ValidationException")
    assert lam.list_layer_versions(LayerName=unique("none"))["LayerVersions"] == []
    with pytest.raises(ClientError) as exc:
        lam.get_layer_version(LayerName=unique("none"), VersionNumber=2**64)
    assert error(exc)[:2] == (400, "ValidationException")
    with pytest.raises(ClientError) as exc:
        lam.publish_layer_version(LayerName=unique("empty"), Content={})
    assert error(exc)[:2] == (400, "InvalidParameterValueException")


def test_layer_from_s3_object_version(lam: Any, s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="layer.zip", Body=layer_zip({"python/v.py": "V = 'old'\n"}))
    s3.put_object(Bucket=bucket, Key="layer.zip", Body=layer_zip({"python/v.py": "V = 'new'\n"}))
    out = lam.publish_layer_version(LayerName=unique("s3"), Content={
        "S3Bucket": bucket, "S3Key": "layer.zip", "S3ObjectVersion": old["VersionId"]})
    with urllib.request.urlopen(out["Content"]["Location"]) as r:  # noqa: S310 - Sluice's own URL
        assert r.read() == layer_zip({"python/v.py": "V = 'old'\n"})


def test_permissions(lam: Any) -> None:
    name = unique("shared")
    arn = publish(lam, name, {"python/m.py": "X = 1\n"})["LayerVersionArn"]
    with pytest.raises(ClientError) as exc:
        lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert error(exc) == (404, "ResourceNotFoundException", "No policy is associated with the given resource.")

    added = lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="xaccount",
                                             Action="lambda:GetLayerVersion", Principal="123456789012")
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(added["Statement"]) == {
        "Sid": "xaccount", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "lambda:GetLayerVersion", "Resource": arn}
    org = lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="org",
                                           Action="lambda:GetLayerVersion", Principal="*",
                                           OrganizationId="o-abcdefghij", RevisionId=added["RevisionId"])
    assert json.loads(org["Statement"])["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}
    policy = lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert policy["RevisionId"] == org["RevisionId"]
    document = json.loads(policy["Policy"])
    assert document["Version"] == "2012-10-17" and document["Id"] == "default"
    assert [s["Sid"] for s in document["Statement"]] == ["xaccount", "org"]

    with pytest.raises(ClientError) as exc:
        lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="org",
                                         Action="lambda:GetLayerVersion", Principal="*")
    assert error(exc) == (409, "ResourceConflictException",
                          "The statement id (org) provided already exists. Please provide a new statement id, or "
                          "remove the existing statement.")
    with pytest.raises(ClientError) as exc:
        lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="late",
                                         Action="lambda:GetLayerVersion", Principal="*",
                                         RevisionId=added["RevisionId"])
    assert error(exc)[:2] == (412, "PreconditionFailedException")
    with pytest.raises(ClientError) as exc:
        lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="s",
                                         Action="lambda:InvokeFunction", Principal="*")
    status, code, message = error(exc)
    assert (status, code) == (400, "ValidationException") and "at 'action'" in message
    with pytest.raises(ClientError) as exc:
        lam.add_layer_version_permission(LayerName=name, VersionNumber=9, StatementId="s",
                                         Action="lambda:GetLayerVersion", Principal="*")
    assert error(exc) == (404, "ResourceNotFoundException", f"Layer version {ACCOUNT_LAYER}:{name}:9 does not exist.")

    lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="xaccount")
    with pytest.raises(ClientError) as exc:
        lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="xaccount")
    assert error(exc) == (404, "ResourceNotFoundException", "Statement xaccount is not found in resource policy.")
    lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="org")
    with pytest.raises(ClientError) as exc:
        lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert error(exc)[:2] == (404, "ResourceNotFoundException")


# -- layers on functions -------------------------------------------------------------------------


def test_python_handler_imports_from_layers_in_order(lam: Any) -> None:
    first, second = two_layers(lam)
    name = create(lam, REPORT, Layers=[first, second])
    assert invoke(lam, name) == {"shared": "second", "first": "only in the first", "site": "from site-packages",
                                 "tool": True, "lib": True}
    layers = lam.get_function(FunctionName=name)["Configuration"]["Layers"]
    assert [layer["Arn"] for layer in layers] == [first, second]
    assert all(layer["CodeSize"] == lam.get_layer_version_by_arn(Arn=layer["Arn"])["Content"]["CodeSize"]
               for layer in layers)

    # The order decides: the later layer's file wins.
    updated = lam.update_function_configuration(FunctionName=name, Layers=[second, first])
    assert [layer["Arn"] for layer in updated["Layers"]] == [second, first]
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    assert invoke(lam, name)["shared"] == "first"

    # A published version keeps its layers; removing them from $LATEST leaves it alone.
    version = lam.publish_version(FunctionName=name)["Version"]
    assert "Layers" not in lam.update_function_configuration(FunctionName=name, Layers=[])
    assert "Layers" not in lam.get_function_configuration(FunctionName=name)
    assert [layer["Arn"] for layer in lam.get_function_configuration(FunctionName=name, Qualifier=version)[
        "Layers"]] == [second, first]
    resp = lam.invoke(FunctionName=name, Payload=b"{}")
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(resp["Payload"].read())["errorType"] == "ModuleNotFoundError"  # imported in the handler
    assert invoke(lam, f"{name}:{version}")["shared"] == "first"


def test_deleted_layer_version_keeps_working_for_its_functions(lam: Any) -> None:
    first, second = two_layers(lam)
    name = create(lam, REPORT, Layers=[first, second])
    layer_name = first.split(":")[-2]
    lam.delete_layer_version(LayerName=layer_name, VersionNumber=1)
    assert invoke(lam, name)["first"] == "only in the first"
    assert [layer["Arn"] for layer in lam.get_function(FunctionName=name)["Configuration"]["Layers"]] == [first, second]
    # Resending the function's configuration as it is (SAM, Terraform) is accepted.
    lam.update_function_configuration(FunctionName=name, Layers=[first, second], Description="again")
    with pytest.raises(ClientError) as exc:
        create(lam, REPORT, Layers=[first])
    assert error(exc) == (400, "InvalidParameterValueException", f"Layer version {first} does not exist.")


def test_layers_refused_as_aws_refuses_them(lam: Any) -> None:
    first, second = two_layers(lam)
    with pytest.raises(ClientError) as exc:
        create(lam, REPORT, Layers=[first] * 6)
    assert error(exc) == (400, "InvalidParameterValueException", "Cannot reference more than 5 layers.")
    layer_name = first.split(":")[-2]
    newer = publish(lam, layer_name, {"python/x.py": ""})["LayerVersionArn"]
    with pytest.raises(ClientError) as exc:
        create(lam, REPORT, Layers=[first, newer])
    assert error(exc) == (400, "InvalidParameterValueException",
                          "Two different versions of the same layer are not allowed to be referenced in the same "
                          f"function. {first} and {newer} are versions of the same layer.")
    with pytest.raises(ClientError) as exc:
        create(lam, REPORT, Layers=["not-an-arn"])
    status, code, message = error(exc)
    assert (status, code) == (400, "ValidationException")
    assert message.startswith("1 validation error detected: Value '[not-an-arn]' at 'layers' failed to satisfy")
    with pytest.raises(ClientError) as exc:
        create(lam, REPORT, Layers=["arn:aws:lambda:eu-west-1:000000000000:layer:x:1"])
    assert error(exc) == (400, "InvalidParameterValueException", "Layers are not in the same region as the "
                          "function. Layers are expected to be in region us-east-1.")
    name = create(lam, REPORT)
    missing = f"{ACCOUNT_LAYER}:{unique('none')}:1"
    with pytest.raises(ClientError) as exc:
        lam.update_function_configuration(FunctionName=name, Layers=[missing])
    assert error(exc) == (400, "InvalidParameterValueException", f"Layer version {missing} does not exist.")
    assert "Layers" not in lam.get_function_configuration(FunctionName=name)


def test_unknown_layer_refused_by_the_cli(aws_cli: AwsCli, tmp_path: Path) -> None:
    package = tmp_path / "fn.zip"
    package.write_bytes(zip_code("def handler(e, c):\n    return 1\n"))
    missing = f"{ACCOUNT_LAYER}:{unique('none')}:1"
    proc = aws_cli("lambda", "create-function", "--function-name", unique(), "--runtime", "python3.12",
                   "--role", ROLE, "--handler", "handler.handler", "--zip-file", f"fileb://{package}",
                   "--layers", missing, check=False)
    assert proc.returncode != 0
    assert "(InvalidParameterValueException)" in proc.stderr
    assert f"Layer version {missing} does not exist." in proc.stderr


def test_cli_publish_and_use(aws_cli: AwsCli, lam: Any, tmp_path: Path) -> None:
    archive = tmp_path / "layer.zip"
    archive.write_bytes(layer_zip({"python/greeting.py": "WORDS = 'hello from a layer'\n"}))
    name = unique("cli")
    published = json.loads(aws_cli("lambda", "publish-layer-version", "--layer-name", name, "--zip-file",
                                   f"fileb://{archive}", "--compatible-runtimes", "python3.12",
                                   "--output", "json").stdout)
    assert published["Version"] == 1
    listed = json.loads(aws_cli("lambda", "list-layers", "--compatible-runtime", "python3.12",
                                "--output", "json").stdout)
    assert name in [item["LayerName"] for item in listed["Layers"]]
    fn = create(lam, "import greeting\ndef handler(e, c):\n    return greeting.WORDS\n",
                Layers=[published["LayerVersionArn"]])
    assert invoke(lam, fn) == "hello from a layer"


def test_layer_paths_and_links_from_the_archive_are_never_trusted(lam: Any, sluice: SluiceProcess) -> None:
    escape = unique("escape")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("python/where.py", "import os\nOPT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))\n")
        z.writestr("../" * 8 + f"{escape}.txt", "climbed")  # zip-slip: '..' parts are dropped
        z.writestr(f"/{escape}-absolute.txt", "absolute")
        link = zipfile.ZipInfo("python/link.txt")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16  # a symlink entry, pointing out of the tree
        z.writestr(link, "/etc/hostname")
    arn = lam.publish_layer_version(LayerName=unique("slip"), Content={"ZipFile": buf.getvalue()})["LayerVersionArn"]
    name = create(lam, f"""
import os, where
def handler(event, context):
    link = os.path.join(where.OPT, "python", "link.txt")
    return {{"inside": sorted(f for f in os.listdir(where.OPT) if f.startswith("{escape}")),
            "link_is_link": os.path.islink(link), "link_text": open(link).read()}}
""", Layers=[arn])
    assert invoke(lam, name) == {"inside": [f"{escape}-absolute.txt", f"{escape}.txt"], "link_is_link": False,
                                 "link_text": "/etc/hostname"}
    # Nothing landed anywhere else in the server's folders either.
    assert all(found.is_relative_to(sluice.data_dir) for found in sluice.data_dir.parent.rglob(f"{escape}*"))


def test_function_and_layers_over_250_mb_refused(lam: Any) -> None:
    # Zeros compress to almost nothing: two small archives that extract to 126 MiB each.
    big = [publish(lam, unique("big"), {"python/blob.bin": "\0" * (126 * 1024 * 1024)})["LayerVersionArn"]
           for _ in range(2)]
    name = create(lam, REPORT, Layers=big[:1])
    with pytest.raises(ClientError) as exc:
        lam.update_function_configuration(FunctionName=name, Layers=big)
    status, code, message = error(exc)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert re.fullmatch(r"Function code combined with layers exceeds the maximum allowed size of 262144000 bytes\. "
                        r"The actual size is \d+ bytes\.", message)
    assert int(message.split()[-2]) > 2 * 126 * 1024 * 1024


def test_layers_survive_a_restart(tmp_path: Path) -> None:
    server = SluiceProcess(tmp_path / "data").start()
    try:
        lam = make_client("lambda", server.endpoint)
        first, second = two_layers(lam)
        package = zip_code(REPORT)
        name = create(lam, REPORT, Layers=[first, second], Code={"ZipFile": package})
        lam.delete_layer_version(LayerName=first.split(":")[-2], VersionNumber=1)  # the function keeps its copy
        archive = urllib.request.urlopen(lam.get_layer_version_by_arn(Arn=second)["Content"]["Location"]).read()  # noqa: S310
        unused = publish(lam, unique("unused"), {"python/unused.py": ""})
        lam.delete_layer_version(LayerName=unused["LayerArn"].split(":")[-1], VersionNumber=1)
    finally:
        server.stop()
    unused_tree = tmp_path / "data" / "layers" / base64.b64decode(unused["Content"]["CodeSha256"]).hex()
    assert unused_tree.is_dir()
    server.start()
    try:
        # A deleted layer version no function uses leaves nothing behind once the server restarts.
        assert not unused_tree.exists()
        assert invoke(make_client("lambda", server.endpoint), name)["shared"] == "second"
    finally:
        server.stop()
    # Only the stored archives are left to rebuild from: every extraction and merged tree is gone.
    for folder in ("layers", "opt"):
        shutil.rmtree(tmp_path / "data" / folder)
    server.start()
    try:
        lam = make_client("lambda", server.endpoint)
        assert invoke(lam, name) == {"shared": "second", "first": "only in the first", "site": "from site-packages",
                                     "tool": True, "lib": True}
        assert [layer["Arn"] for layer in lam.get_function(FunctionName=name)["Configuration"]["Layers"]] == [
            first, second]
        got = lam.get_layer_version_by_arn(Arn=second)
        with urllib.request.urlopen(got["Content"]["Location"]) as r:  # noqa: S310 - Sluice's own URL
            assert r.read() == archive
        with urllib.request.urlopen(lam.get_function(FunctionName=name)["Code"]["Location"]) as r:  # noqa: S310
            assert r.read() == package
        assert publish(lam, first.split(":")[-2], {"python/x.py": ""})["Version"] == 2  # 1 is never given again
        assert second.split(":")[-2] in [item["LayerName"] for item in lam.list_layers()["Layers"]]
    finally:
        server.stop()
