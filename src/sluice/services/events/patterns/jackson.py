"""A JSON pull parser that reports errors and locations as Jackson (AWS's parser) does.

AWS answers an invalid event pattern with Jackson's message and location:
`\\n at [Source: (String)"<pattern>"; line: 1, column: 11]`. The compiler (compiler.py) reads
the pattern token by token through `Parser`, so its errors land where AWS puts them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

PREFIX = "Event pattern is not valid. Reason: "
_EXPECTING_VALUE = "was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
_SOURCE_LIMIT = 500  # Jackson shows at most this many characters of the source


class PatternError(ValueError):
    """The event pattern is not valid; `message` is what AWS answers."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Token:
    """One token of the JSON text: its kind, where it is, and a string's or number's value."""

    kind: str  # "{" "}" "[" "]" "field" "string" "number" "true" "false" "null"
    start: int
    end: int
    value: Any = None


_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[A-Za-z0-9_$.+\-]+")
_DECODER = json.JSONDecoder()


class Parser:
    """Tokens of a JSON text, with the parser's position after each (1-based column = pos + 1).

    Jackson reads a string value lazily: until its text is asked for, the position is just past
    the opening quote. Errors about a value's type are reported there; errors about its content
    after the closing quote. The compiler (compiler.py) reads tokens in the order Event Ruler does.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.pos = 0
        self.stack: list[str] = []  # "{" or "["
        self.expect = "value"  # "value" | "field-or-end" | "field" | "value-or-end" | "sep"
        self.done = False

    # locations and errors

    def location(self, pos: int | None = None) -> str:
        p = self.pos if pos is None else pos
        line = self.text.count("\n", 0, p) + 1
        column = p - (self.text.rfind("\n", 0, p) + 1) + 1
        src = self.text
        if len(src) > _SOURCE_LIMIT:
            shown = f'"{src[:_SOURCE_LIMIT]}"[truncated {len(src) - _SOURCE_LIMIT} chars]'
        else:
            shown = f'"{src}"'
        return f"\n at [Source: (String){shown}; line: {line}, column: {column}]"

    def barf(self, reason: str, twice: bool = False) -> PatternError:
        where = self.location()
        return PatternError(PREFIX + reason + where + (where if twice else ""))

    def _syntax(self, message: str, pos: int) -> PatternError:
        return PatternError(PREFIX + message + self.location(pos))

    def text_of(self, tok: Token) -> Any:
        """The value of a token, moving past it (a string's closing quote)."""
        self.pos = tok.end
        return tok.value

    # tokens

    def _skip_ws(self) -> None:
        text, i = self.text, self.i
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        self.i = i

    def _unexpected(self, what: str) -> PatternError:
        i = self.i
        if i >= len(self.text):
            kind = "Object" if self.stack and self.stack[-1] == "{" else "Array"
            if not self.stack:
                return self._syntax("No content to map due to end-of-input", i)
            return self._syntax(f"Unexpected end-of-input: expected close marker for {kind.upper()}", i)
        c = self.text[i]
        if what == "value" and (c.isalpha() or c in "_$"):
            m = _WORD.match(self.text, i)
            word = m.group(0) if m else c
            return self._syntax(f"Unrecognized token '{word}': {_EXPECTING_VALUE}", i + len(word))
        expecting = {
            "value": "expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')",
            "field": "was expecting double-quote to start field name",
            "colon": "was expecting a colon to separate field name and value",
            "sep{": "was expecting comma to separate Object entries",
            "sep[": "was expecting comma to separate Array entries",
        }[what]
        return self._syntax(f"Unexpected character ('{c}' (code {ord(c)})): {expecting}", i)

    def _string(self) -> tuple[str, int, int]:
        start = self.i
        try:
            value, end = json.decoder.scanstring(self.text, start + 1)  # type: ignore[attr-defined]
        except ValueError:
            raise self._syntax("Unexpected end-of-input: was expecting closing quote for a string value",
                               len(self.text)) from None
        self.i = end
        return value, start, end

    def _value(self) -> Token:
        self._skip_ws()
        text, i = self.text, self.i
        if i >= len(text):
            raise self._unexpected("value")
        c = text[i]
        if c in "{[":
            self.i = i + 1
            self.pos = i + 1
            self.stack.append(c)
            self.expect = "field-or-end" if c == "{" else "value-or-end"
            return Token(c, i, i + 1)
        if c == '"':
            value, start, end = self._string()
            self.pos = start + 1  # lazily read, as Jackson does
            self._after_value()
            return Token("string", start, end, value)
        m = _NUMBER.match(text, i)
        if m and (c == "-" or c.isdigit()):
            end = m.end()
            if end < len(text) and (text[end].isalnum() or text[end] in "._"):
                raise self._unexpected("value")
            literal = m.group(0)
            number: float | int = float(literal) if any(ch in literal for ch in ".eE") else int(literal)
            self.i = self.pos = end
            self._after_value()
            return Token("number", i, end, number)
        literals: tuple[tuple[str, Any], ...] = (("true", True), ("false", False), ("null", None))
        for word, literal_value in literals:
            if text.startswith(word, i) and not (i + len(word) < len(text) and text[i + len(word)].isalnum()):
                self.i = self.pos = i + len(word)
                self._after_value()
                return Token(word, i, i + len(word), literal_value)
        raise self._unexpected("value")

    def _after_value(self) -> None:
        if not self.stack:
            self.done = True
            self.expect = "end"
        else:
            self.expect = "sep"

    def next(self) -> Token:
        """The next token: values, brackets, and field names inside objects."""
        self._skip_ws()
        text = self.text
        if self.expect == "value":
            return self._value()
        if self.expect in ("field-or-end", "value-or-end") and self.i < len(text) and text[self.i] in "}]":
            return self._close()
        if self.expect == "value-or-end":
            return self._value()
        if self.expect == "sep":
            if self.i < len(text) and text[self.i] in "}]":
                return self._close()
            if self.i < len(text) and text[self.i] == ",":
                self.i += 1
                if self.stack[-1] == "[":
                    return self._value()
                self.expect = "field"
                return self.next()
            raise self._unexpected("sep" + self.stack[-1])
        if self.expect in ("field", "field-or-end"):
            if self.i >= len(text) or text[self.i] != '"':
                raise self._unexpected("field")
            name, start, end = self._string()
            self._skip_ws()
            if self.i >= len(text) or text[self.i] != ":":
                raise self._unexpected("colon")
            self.i += 1
            self.pos = end
            self.expect = "value"
            return Token("field", start, end, name)
        raise self._syntax("Unexpected content after the end of the pattern", self.i)

    def _close(self) -> Token:
        c = self.text[self.i]
        opener = self.stack.pop() if self.stack else ""
        if (opener, c) not in (("{", "}"), ("[", "]")):
            raise self._syntax(f"Unexpected close marker '{c}'", self.i + 1)
        self.i += 1
        self.pos = self.i
        self._after_value()
        return Token(c, self.i - 1, self.i)
