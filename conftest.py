"""Test-wide set-up: svckit's fixtures, and hypothesis without per-example
deadlines: timings are never asserted in tests (bench/ measures them), and a
loaded 2-core CI machine must not turn a slow example into a failure."""

from hypothesis import settings

pytest_plugins = ["svckit.testing.fixtures"]

settings.register_profile("cityops", deadline=None)
settings.load_profile("cityops")
