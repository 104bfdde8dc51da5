"""Hypothesis searches fresh examples on a developer's machine and replays a fixed set in CI (CI=true)."""
import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
