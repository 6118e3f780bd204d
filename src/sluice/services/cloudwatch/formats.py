"""How CloudWatch writes numbers, dates and regions in alarm reasons, history and notifications."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-north-1": "EU (Stockholm)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "sa-east-1": "South America (Sao Paulo)",
    "ca-central-1": "Canada (Central)",
}


def region_name(region: str) -> str:
    return REGION_NAMES.get(region, region)


def java_double(x: float) -> str:
    """A double as Java prints it (CloudWatch reasons): 3.0, 0.5, 1.0E7, 1.5E-4."""
    x = float(x)
    if x == 0 or 1e-3 <= abs(x) < 1e7:
        return repr(x)
    sign, digits, exp = Decimal(repr(x)).normalize().as_tuple()
    ds = "".join(map(str, digits))
    assert isinstance(exp, int)
    return f"{'-' if sign else ''}{ds[0]}.{ds[1:] or '0'}E{len(ds) - 1 + exp}"


def reason_date(ts: float) -> str:
    """`22/11/26 11:02:00` (dd/MM/yy HH:mm:ss, UTC), as datapoints appear in reasons."""
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).strftime("%d/%m/%y %H:%M:%S")


def json_date(ts: float) -> str:
    """`2026-11-22T11:02:00.000+0000`, as dates appear in HistoryData and notifications."""
    ms = round(ts * 1000)  # rounded as the API's own timestamps are
    d = dt.datetime.fromtimestamp(ms // 1000, tz=dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+0000"
