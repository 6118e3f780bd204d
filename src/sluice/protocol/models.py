"""botocore's service models: the wire shapes of every operation, as boto3 itself uses them."""

from __future__ import annotations

import contextlib
import ctypes
import json
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.model import ServiceModel

# A model is read once, even when its service's first requests race.
_lock = threading.RLock()
_descriptions: dict[str, dict[str, Any]] = {}
_models: dict[str, ServiceModel] = {}
# The protocols of services botocore describes and Sluice does not serve (protocol_of).
_protocols: dict[str, str | None] = {}
# How botocore's data directories are named: a name from a request that is not one is no service
# (and never a path to look at).
_SERVICE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def _data_dir() -> Path:
    # botocore's own model files. Found from its package, not through a botocore Loader: a
    # Loader also searches ~/.aws/models (a server must not change shape with a user's files)
    # and keeps every file it parsed, as OrderedDicts with their documentation, for ever.
    import botocore

    return Path(botocore.__file__).parent / "data"


def _undocumented(obj: dict[str, Any]) -> dict[str, Any]:
    # Documentation is most of a model's text (1 MB of S3's 1.3 MB) and nothing on the wire
    # reads it: dropped as the file is parsed.
    if isinstance(obj.get("documentation"), str):  # a member named so would be a dict
        del obj["documentation"]
    return obj


def _read(path: Path) -> Any:
    import gzip

    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return json.loads(raw, object_hook=_undocumented)


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.json", folder / f"{name}.json.gz"):
        if candidate.is_file():
            return candidate
    return None


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    """botocore's sdk-extras rule: dicts merge key by key, anything else replaces."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _give_back_free_memory() -> None:
    """Parsing a model allocates megabytes that are freed at once; glibc keeps them in the
    process (RSS) unless asked to hand the free pages back. Once per service model."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: its allocator decides alone
        ctypes.CDLL(None).malloc_trim(0)


def _load_description(name: str) -> dict[str, Any]:
    from botocore.exceptions import DataNotFoundError

    service_dir = _data_dir() / name
    versions = sorted(v for v in (service_dir.iterdir() if service_dir.is_dir() else ())
                      if _find(v, "service-2") is not None)
    if not versions:
        raise DataNotFoundError(data_path=name)
    latest = versions[-1]  # API versions are dates: the newest sorts last, as botocore picks it
    found = _find(latest, "service-2")
    assert found is not None
    model: dict[str, Any] = _read(found)
    extras = _find(latest, "service-2.sdk-extras")
    if extras is not None:
        _merge(model, _read(extras).get("merge", {}))
    return model


def service_description(name: str) -> dict[str, Any]:
    """The parsed service-2 model of `name` (shared: copy before changing it)."""
    found = _descriptions.get(name)
    if found is None:
        with _lock:
            found = _descriptions.get(name)
            if found is None:
                found = _descriptions[name] = _load_description(name)
                _give_back_free_memory()
    return found


def service_model(name: str) -> ServiceModel:
    found = _models.get(name)  # every request asks: no lock once it is known
    if found is None:
        with _lock:
            found = _models.get(name)
            if found is None:
                # botocore's model module (and what it imports) costs a sixth of a second and
                # several MB: paid when a service first needs its model, not at start-up.
                from botocore.model import ServiceModel

                found = _models[name] = ServiceModel(service_description(name), service_name=name)
    return found


def protocol_of(name: str) -> str | None:
    """The wire protocol of a service botocore describes, or None for any other name: how to word
    the answer to a request for a service Sluice does not serve. Only the protocol is kept (a few
    hundred names at most), not the model: for some services that is tens of megabytes parsed,
    and a request may name any of them."""
    if not _SERVICE_NAME.fullmatch(name):
        return None
    if name in _protocols:
        return _protocols[name]
    from botocore.exceptions import DataNotFoundError

    with _lock:  # one parse of a model, however many requests name it at once
        if name not in _protocols:
            description = _descriptions.get(name)
            if description is None:
                try:
                    description = _load_description(name)
                except DataNotFoundError:  # found nothing to parse: nothing to give back either
                    return None
                _give_back_free_memory()
            _protocols[name] = description.get("metadata", {}).get("protocol")
    return _protocols[name]
