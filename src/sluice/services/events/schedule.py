"""Schedule expressions: `rate(N unit)` and AWS's six-field `cron(...)`. Pure functions.

- `rate(value unit)`: a positive whole number; the unit is `minute`, `hour` or `day` for 1 and
  `minutes`, `hours`, `days` otherwise (AWS refuses `rate(1 minutes)` and `rate(5 minute)`).
- `cron(minutes hours day-of-month month day-of-week year)`, in UTC:

  | field        | values                    | wildcards        |
  |--------------|---------------------------|------------------|
  | minutes      | 0-59                      | , - * /          |
  | hours        | 0-23                      | , - * /          |
  | day-of-month | 1-31                      | , - * ? / L W    |
  | month        | 1-12 or JAN-DEC           | , - * /          |
  | day-of-week  | 1-7 or SUN-SAT (1 = SUN)  | , - * ? L #      |
  | year         | 1970-2199                 | , - * /          |

  Exactly one of day-of-month and day-of-week is `?`. `L` alone is the last day of the month (or
  Saturday in day-of-week); `L-3` three days before it; `15W` the weekday nearest the 15th within
  the month; `LW` the last weekday; `6L` the last Friday; `2#3` the third Monday.

`parse_schedule` raises `ScheduleError` for anything else; the service answers it with AWS's
"Parameter ScheduleExpression is not valid.".
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

__all__ = ["Cron", "Rate", "Schedule", "ScheduleError", "parse_schedule"]

UTC = dt.timezone.utc
MAX_YEAR = 2199


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class Rate:
    """A `rate(...)` schedule: a fire every so many AWS-seconds."""

    seconds: int  # AWS-seconds between fires


_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}

_MONTHS = {m: i for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}


def _number(text: str, low: int, high: int, names: dict[str, int] | None = None) -> int:
    key = text.upper()
    if names and key in names:
        return names[key]
    if not text.isdigit():
        raise ScheduleError(f"bad value {text!r}")
    n = int(text)
    if not low <= n <= high:
        raise ScheduleError(f"{n} out of range {low}-{high}")
    return n


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """A standard field: `*`, `a`, `a-b` (wrapping allowed for names), `*/n`, `a/n`, `a-b/n`, lists."""
    out: set[int] = set()
    for item in field.split(","):
        if not item:
            raise ScheduleError("empty list item")
        step = 1
        if "/" in item:
            item, _, step_text = item.partition("/")
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"bad step {step_text!r}")
            step = int(step_text)
        if item == "*":
            start, end = low, high
        elif "-" in item:
            a, _, b = item.partition("-")
            start, end = _number(a, low, high, names), _number(b, low, high, names)
        else:
            start = _number(item, low, high, names)
            end = high if step > 1 else start
        if start <= end:
            out.update(range(start, end + 1, step))
        else:  # a range that wraps (FRI-MON, NOV-FEB)
            span = list(range(start, high + 1)) + list(range(low, end + 1))
            out.update(span[::step])
    return frozenset(out)


@dataclass(frozen=True)
class _DayOfMonth:
    """The day-of-month field of a cron expression, parsed."""

    any: bool = False  # "?" or "*"
    days: frozenset[int] = frozenset()
    last_offset: int | None = None  # "L" (0) or "L-n"
    nearest_weekday: int | None = None  # "15W"
    last_weekday: bool = False  # "LW"

    def matches(self, d: dt.date) -> bool:
        if self.any:
            return True
        last = calendar.monthrange(d.year, d.month)[1]
        if d.day in self.days:
            return True
        if self.last_offset is not None and d.day == last - self.last_offset:
            return True
        if self.last_weekday and d == _nearest_weekday(d.replace(day=last)):
            return True
        if self.nearest_weekday is not None:
            target = min(self.nearest_weekday, last)
            if d == _nearest_weekday(d.replace(day=target)):
                return True
        return False


def _nearest_weekday(d: dt.date) -> dt.date:
    """The weekday nearest `d` within its month (Saturday -> Friday, Sunday -> Monday)."""
    wd = d.weekday()
    if wd == 5:
        return d - dt.timedelta(days=1) if d.day > 1 else d + dt.timedelta(days=2)
    if wd == 6:
        last = calendar.monthrange(d.year, d.month)[1]
        return d + dt.timedelta(days=1) if d.day < last else d - dt.timedelta(days=2)
    return d


def _parse_dom(field: str) -> _DayOfMonth:
    if field in ("?", "*"):
        return _DayOfMonth(any=True)
    if field == "L":
        return _DayOfMonth(last_offset=0)
    if field == "LW":
        return _DayOfMonth(last_weekday=True)
    m = re.fullmatch(r"L-(\d+)", field)
    if m:
        n = int(m.group(1))
        if not 1 <= n <= 30:
            raise ScheduleError("bad L offset")
        return _DayOfMonth(last_offset=n)
    m = re.fullmatch(r"(\d+)W", field)
    if m:
        return _DayOfMonth(nearest_weekday=_number(m.group(1), 1, 31))
    return _DayOfMonth(days=_values(field, 1, 31))


def _aws_weekday(d: dt.date) -> int:
    return (d.weekday() + 1) % 7 + 1  # SUN = 1 ... SAT = 7


@dataclass(frozen=True)
class _DayOfWeek:
    """The day-of-week field of a cron expression, parsed."""

    any: bool = False
    days: frozenset[int] = frozenset()
    last_of: int | None = None  # "6L": the last Friday of the month
    nth: tuple[int, int] | None = None  # "2#3": the third Monday

    def matches(self, d: dt.date) -> bool:
        if self.any:
            return True
        wd = _aws_weekday(d)
        if wd in self.days:
            return True
        if self.last_of is not None and wd == self.last_of:
            return d.day + 7 > calendar.monthrange(d.year, d.month)[1]
        if self.nth is not None and wd == self.nth[0]:
            return (d.day - 1) // 7 + 1 == self.nth[1]
        return False


def _parse_dow(field: str) -> _DayOfWeek:
    if field in ("?", "*"):
        return _DayOfWeek(any=True)
    if field == "L":
        return _DayOfWeek(days=frozenset({7}))
    m = re.fullmatch(r"(\w+)L", field)
    if m:
        return _DayOfWeek(last_of=_number(m.group(1), 1, 7, _DAYS))
    m = re.fullmatch(r"(\w+)#(\d)", field)
    if m:
        k = int(m.group(2))
        if not 1 <= k <= 5:
            raise ScheduleError("bad # occurrence")
        return _DayOfWeek(nth=(_number(m.group(1), 1, 7, _DAYS), k))
    return _DayOfWeek(days=_values(field, 1, 7, _DAYS))


@dataclass(frozen=True)
class Cron:
    """A `cron(...)` schedule: the values each of its six fields allows (UTC)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    dom: _DayOfMonth
    months: frozenset[int]
    dow: _DayOfWeek
    years: frozenset[int]

    def next_after(self, when: dt.datetime) -> dt.datetime | None:
        """The first fire time strictly after `when` (UTC), or None if there is none before 2200."""
        t = when.astimezone(UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        day = t.date()
        first_minute = t.hour * 60 + t.minute
        minutes_of_day = sorted(h * 60 + m for h in self.hours for m in self.minutes)
        while day.year <= MAX_YEAR:
            if day.year not in self.years:
                day = dt.date(day.year + 1, 1, 1)
                first_minute = 0
                continue
            if day.month not in self.months:
                day = dt.date(day.year + 1, 1, 1) if day.month == 12 else dt.date(day.year, day.month + 1, 1)
                first_minute = 0
                continue
            if self.dom.matches(day) and self.dow.matches(day):
                for mod in minutes_of_day:
                    if mod >= first_minute:
                        return dt.datetime(day.year, day.month, day.day, mod // 60, mod % 60, tzinfo=UTC)
            day += dt.timedelta(days=1)
            first_minute = 0
        return None


_CRON = re.compile(r"^cron\((.*)\)$")


def parse_cron(body: str) -> Cron:
    fields = body.split()
    if len(fields) != 6:
        raise ScheduleError("cron needs six fields")
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ScheduleError("exactly one of day-of-month and day-of-week must be '?'")
    return Cron(
        minutes=_values(minute, 0, 59),
        hours=_values(hour, 0, 23),
        dom=_parse_dom(dom),
        months=_values(month, 1, 12, _MONTHS),
        dow=_parse_dow(dow),
        years=_values(year, 1970, MAX_YEAR),
    )


Schedule = Rate | Cron


def parse_schedule(expression: str) -> Schedule:
    m = _RATE.match(expression)
    if m:
        value, unit = int(m.group(1)), m.group(2)
        if value <= 0:
            raise ScheduleError("rate must be positive")
        if (value == 1) != (not unit.endswith("s")):
            raise ScheduleError("use the singular unit for 1 and the plural otherwise")
        return Rate(value * _UNIT_SECONDS[unit.rstrip("s")])
    m = _CRON.match(expression)
    if m:
        return parse_cron(m.group(1))
    raise ScheduleError("neither rate(...) nor cron(...)")
