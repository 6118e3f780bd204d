"""Constraint checks from the model (min, max, enum), with the messages AWS's JSON services use:

    1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint:
    Member must have value less than or equal to 2
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ServiceError

if TYPE_CHECKING:
    from botocore.model import Shape


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


_PATTERNS: dict[str, re.Pattern[str] | None] = {}


def _pattern(text: str) -> re.Pattern[str] | None:
    if text not in _PATTERNS:
        try:
            _PATTERNS[text] = re.compile(text)
        except re.error:  # Java-only syntax (\p{L}): not checked here
            _PATTERNS[text] = None
    return _PATTERNS[text]


@dataclass(frozen=True)
class _Rules:
    """Which of the model's constraints a validation checks."""

    required: bool  # report required members that are missing ("Member must not be null")
    patterns: bool  # check `pattern` constraints (only services whose patterns are plain regexes)


def _check(value: Any, shape: Shape, path: str, problems: list[str], rules: _Rules,
           skip: tuple[str, ...] = ()) -> None:
    # Here, not at the top: this module is imported at start-up, botocore.model only once a
    # model is in use (and by then this is a lookup in sys.modules).
    from botocore.model import ListShape, MapShape, StructureShape

    if value is None:
        return
    meta = shape.metadata
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in skip:
                continue
            where = f"{path}.{_camel(name)}" if path else _camel(name)
            if value.get(name) is not None:
                _check(value[name], member, where, problems, rules)
            elif rules.required and name in shape.required_members:
                problems.append(f"Value null at '{where}' failed to satisfy constraint: Member must not be null")
        return
    if isinstance(shape, ListShape) and isinstance(value, list):
        if "min" in meta and len(value) < meta["min"]:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must have length less than or equal to {meta['max']}")
        for i, item in enumerate(value):
            _check(item, shape.member, f"{path}.{i + 1}.member", problems, rules)
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
            return
        if "min" in meta and len(value) < meta["min"]:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must have length less than or equal to {meta['max']}")
        rx = _pattern(meta["pattern"]) if rules.patterns and "pattern" in meta else None
        if rx is not None and value and rx.fullmatch(value) is None:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must satisfy regular expression pattern: {meta['pattern']}")


def validate(params: dict[str, Any], shape: Shape | None, code: str = "ValidationException",
             extra: dict[str, tuple[int | None, int | None]] | None = None, *, required: bool = False,
             patterns: bool = False, skip: tuple[str, ...] = ()) -> None:
    """Check `params` against `shape`; `extra` adds (min, max) bounds the model leaves out.

    `required` and `patterns` add the model's required-member and regex checks, for services
    whose models carry them usably; `skip` leaves top-level members to the service's own checks.
    """
    problems: list[str] = []
    if shape is not None:
        _check(params, shape, "", problems, _Rules(required, patterns), skip)
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
