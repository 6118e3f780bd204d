"""The fuzzer's two Hypothesis profiles.

`quick` (the default, run by `make test`): derandomized, so every run sends the same requests.
`long` (`SLUICE_FUZZ=long`, run by `make fuzz`): random, thousands of cases. SLUICE_FUZZ_EXAMPLES
overrides the number of examples a test with weight 1 gets.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

PROFILE = os.environ.get("SLUICE_FUZZ", "quick")

# No example database: a saved failure would replay against a server in another state. A failure
# prints its @reproduce_failure blob instead; `--hypothesis-seed N` repeats a whole long run.
_COMMON = settings(deadline=None, database=None, print_blob=True, suppress_health_check=list(HealthCheck))
settings.register_profile("quick", _COMMON, max_examples=80, derandomize=True)
settings.register_profile("long", _COMMON, max_examples=500, derandomize=False,
                          phases=[Phase.explicit, Phase.generate, Phase.shrink])


def examples(weight: float = 1.0) -> int:
    """Examples for one test: the profile's count scaled by the test's weight."""
    base = int(os.environ.get("SLUICE_FUZZ_EXAMPLES") or settings.get_profile(PROFILE).max_examples)
    return max(1, int(base * weight))


def profile() -> settings:
    return settings.get_profile(PROFILE)
