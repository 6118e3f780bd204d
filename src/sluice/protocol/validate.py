"""Constraint checks from the model (min, max, enum), with the messages AWS's JSON services use:

    1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint:
    Member must have value less than or equal to 2
"""

from __future__ import annotations

from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from .errors import ServiceError


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _check(value: Any, shape: Shape, path: str, problems: list[str]) -> None:
    if value is None:
        return
    meta = shape.metadata
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                _check(value[name], member, f"{path}.{_camel(name)}" if path else _camel(name), problems)
        return
    if isinstance(shape, ListShape) and isinstance(value, list):
        if "min" in meta and len(value) < meta["min"]:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must have length less than or equal to {meta['max']}")
        for i, item in enumerate(value):
            _check(item, shape.member, f"{path}.{i + 1}.member", problems)
        return
    if isinstance(shape, MapShape):
        return
    t = shape.type_name
    if t in ("integer", "long") and isinstance(value, int):
        if "min" in meta and value < meta["min"]:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must have value less than or equal to {meta['max']}")
    elif t == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        elif "min" in meta and len(value) < meta["min"]:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must have length greater than or equal to {meta['min']}")
        elif "max" in meta and len(value) > meta["max"]:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must have length less than or equal to {meta['max']}")


def validate(params: dict[str, Any], shape: Shape | None, code: str = "ValidationException",
             extra: dict[str, tuple[int | None, int | None]] | None = None) -> None:
    """Check `params` against `shape`; `extra` adds (min, max) bounds the model leaves out."""
    problems: list[str] = []
    if shape is not None:
        _check(params, shape, "", problems)
    for name, (low, high) in (extra or {}).items():
        value = params.get(name)
        if not isinstance(value, int):
            continue
        if low is not None and value < low:
            problems.append(f"Value '{value}' at '{_camel(name)}' failed to satisfy constraint: "
                            f"Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            problems.append(f"Value '{value}' at '{_camel(name)}' failed to satisfy constraint: "
                            f"Member must have value less than or equal to {high}")
    raise_problems(problems, code)


def raise_problems(problems: list[str], code: str = "ValidationException") -> None:
    if problems:
        n = len(problems)
        noun = "error" if n == 1 else "errors"
        raise ServiceError(code, f"{n} validation {noun} detected: " + "; ".join(problems), 400)
