"""How often the alarm evaluator runs: light, so that the engine's task can be scheduled before
the CloudWatch service itself is built (server.py builds it on its first use)."""

from __future__ import annotations

from ...clock import Clock

EVALUATION_INTERVAL = 60.0  # engine seconds between two evaluations of every alarm
# ... but at least every 10 seconds of the clock's time: periods are measured in `clock.now()`
# (wall-clock time), and a 10-second alarm checked once a minute would never see most of its
# periods (AWS evaluates those every 10 seconds).
HIGH_RESOLUTION_EVALUATION = 10.0


def evaluation_interval(clock: Clock) -> float:
    """Engine seconds between two evaluations: a minute, or 10 seconds of `clock.now()` if that
    comes first. On a real clock those 10 seconds are real ones whatever `--time-scale` says (a
    scaled engine minute may be shorter); on a ManualClock they are 10 of its own seconds, so an
    advance runs exactly the evaluations due in it."""
    return min(EVALUATION_INTERVAL, HIGH_RESOLUTION_EVALUATION * clock.time_scale)
