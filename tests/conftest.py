"""Shared pytest configuration for rmq's tests.

Hypothesis runs without per-example deadlines: the machines are 2-core and shared, so a timing
limit per example would make tests flaky without testing anything about rmq. Properties are
still checked on every example; benchmarks, not tests, measure speed.

The Spark and Flink suites run in their own virtualenvs without Hypothesis, hence the guard.
"""

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # the connector virtualenvs have no Hypothesis and need no profile
    pass
else:
    settings.register_profile("rmq", deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("rmq")
