"""EventBridge event patterns: validate and compile once, match many events. Pure functions.

The semantics are those of AWS's Event Ruler, which EventBridge runs:

- A pattern is a JSON object. Nested objects descend into the event; every leaf is an array of
  match conditions, any of which may match (`{"source": ["a", "b"]}` is a OR).
- Paths are joined with ".", in the pattern and in the event alike, so `{"a.b": [1]}` and
  `{"a": {"b": [1]}}` are the same pattern, and both match `{"a": {"b": 1}}` and `{"a.b": 1}`.
- Only leaves (strings, numbers, booleans, null) are matched. An event array is a set of leaves at
  the same path: a condition matches when any element matches; an empty array is no leaf at all.
  When several fields of one pattern come from the same array of objects, they must come from the
  same element (Ruler's array consistency).
- Exact values compare by type: the string "5" is not the number 5; numbers compare numerically.
- `prefix`, `suffix` (optionally `{"equals-ignore-case": ...}` inside), `equals-ignore-case`,
  `wildcard` and `cidr` only ever match strings. `numeric` only matches numbers.
- `anything-but` (a value, a list of strings or of numbers, or `{prefix|suffix|equals-ignore-case|
  wildcard: value or list}`) matches any leaf that is present and not excluded, whatever its type
  (null included); a missing field never matches it.
- `exists: true` matches a present leaf (null included); `exists: false` matches when the path has
  no leaf.
- `$or: [pattern, pattern, ...]` (objects) makes alternatives; siblings apply to each alternative.

`compile_pattern` raises `PatternError` with AWS's reason ("Event pattern is not valid. Reason:
...") and, like AWS (whose parser is Jackson), the location in the source for structural errors:
`\\n at [Source: (String)"<pattern>"; line: 1, column: 11]`.

  jackson.py    a JSON pull parser with Jackson's errors and locations
  compiler.py   pattern text -> EventPattern, in Event Ruler's order of reading
  matching.py   compiled conditions, flattened events, matching
"""

from .compiler import compile_pattern, matches
from .jackson import PatternError
from .matching import EventPattern, flatten_event

__all__ = ["EventPattern", "PatternError", "compile_pattern", "flatten_event", "matches"]
