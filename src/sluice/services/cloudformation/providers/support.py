"""What every resource provider needs beside calling the services (calls.py): generated
physical names, and the property checks and conversions CloudFormation applies before a
resource handler sees a template's values."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ....protocol.errors import ServiceError
from .base import ProviderError, ResourceRequest
from .base import physical_name as shortened_name

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


# -- names ---------------------------------------------------------------------------------


def random_part(req: ResourceRequest, length: int = 13) -> str:
    """The `<RANDOM>` of a generated name: fixed by the stack, resource and request token, so a
    step resumed after a crash (same token) asks for the same name, and a replacement (a new
    token) gets a new one."""
    digest = int.from_bytes(hashlib.sha256(
        f"{req.stack_id}\0{req.logical_id}\0{req.request_token}".encode()).digest(), "big")
    out = []
    for _ in range(length):
        digest, i = divmod(digest, len(_ALNUM))
        out.append(_ALNUM[i])
    return "".join(out)


def physical_name(req: ResourceRequest, max_length: int, *, lower: bool = False, suffix: str = "",
                  random_length: int = 13) -> str:
    """`<stack>-<logical>-<RANDOM>` as CloudFormation names a resource whose name the template
    leaves out, within the service's limit (`suffix` after it: a FIFO queue's `.fifo`). RANDOM
    is the suffix the deployer recorded for the step, else one made from the request token."""
    # A replacement needs a name of its own (the old resource lives until the cleanup phase):
    # its random part comes from the step's token, never the suffix recorded for the first create.
    replacing = req.request_token.endswith(":replace")
    rand = random_part(req, random_length) if replacing or not req.name_suffix else req.name_suffix
    return shortened_name(req.stack_name, req.logical_id, rand, max_length - len(suffix), lower=lower) + suffix


# -- properties ----------------------------------------------------------------------------


def invalid_properties(req: ResourceRequest, problem: str) -> ProviderError:
    """A template value the resource type's schema refuses, worded as CloudFormation words it."""
    return ProviderError(f"Properties validation failed for resource {req.logical_id} with message: [{problem}]")


def check_properties(req: ResourceRequest, known: Iterable[str], required: Iterable[str] = ()) -> dict[str, Any]:
    """The resource's properties, after the schema's checks: every key known to the type (AWS
    properties Sluice has nothing to do with, like encryption keys, are accepted), every required
    key present."""
    props = dict(req.properties or {})
    allowed = set(known)
    extra = sorted(k for k in props if k not in allowed)
    if extra:
        raise invalid_properties(req, f"#: extraneous key [{extra[0]}] is not permitted")
    for key in required:
        if props.get(key) is None:
            raise invalid_properties(req, f"#: required key [{key}] not found")
    return props


def as_int(req: ResourceRequest, props: Mapping[str, Any], name: str) -> int | None:
    """An integer property: a template (or a parameter) may give it as a string."""
    value = props.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise invalid_properties(req, f"#/{name}: expected type: Integer, found: Boolean")
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        raise invalid_properties(req, f"#/{name}: expected type: Integer, found: String") from None


def as_bool(req: ResourceRequest, props: Mapping[str, Any], name: str) -> bool | None:
    value = props.get(name)
    if value is None or isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise invalid_properties(req, f"#/{name}: expected type: Boolean, found: String")


def as_json_text(value: Any) -> str | None:
    """A policy-like property: CloudFormation takes a JSON object or its text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value)


def as_json_object(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def attribute_text(value: Any) -> str:
    """An attribute value as the query/JSON services take it (booleans lower-case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def tag_map(props: Mapping[str, Any], name: str = "Tags") -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in props.get(name) or []}


def tag_list(props: Mapping[str, Any], name: str = "Tags") -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tag_map(props, name).items()]


def changed(req: ResourceRequest, *names: str) -> bool:
    """Whether any of these properties differs from the stack's previous template."""
    old = req.old_properties or {}
    return any(old.get(n) != req.properties.get(n) for n in names)


@contextlib.contextmanager
def undo_on_failure(undo: Callable[[], None]) -> Iterator[None]:
    """A create made of several calls: if a later one fails, what the first made is deleted
    before the error goes on, since the deployer records no physical id for a failed create (it
    would be left behind, made and forgotten, by the rollback)."""
    try:
        yield
    except (ServiceError, ProviderError):
        with contextlib.suppress(ServiceError, ProviderError):
            undo()
        raise
