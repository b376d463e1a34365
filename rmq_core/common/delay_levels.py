"""``messageDelayLevel``: the one default and the one parser of the delay-level table.

The value lists one duration per level, separated by whitespace, each a whole number followed
by a unit ``s``, ``m``, ``h`` or ``d``; level *n* (1-based) is the *n*-th entry. The store
writes schedule-topic delivery times with the table and the broker delivers by it, so both read
it from :class:`~rmq_core.store.config.StoreConfig` through :func:`parse_delay_levels`.
"""

from __future__ import annotations

import re

__all__ = ["DEFAULT_MESSAGE_DELAY_LEVEL", "DELAY_UNIT_MS", "parse_delay_levels"]

DEFAULT_MESSAGE_DELAY_LEVEL = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"
"""RocketMQ's default table: 18 levels from 1 s to 2 h."""

DELAY_UNIT_MS: dict[str, int] = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
"""Milliseconds per unit letter."""

_TOKEN = re.compile(r"([0-9]+)([smhd])")


def parse_delay_levels(text: str) -> tuple[int, ...]:
    """The delay in **milliseconds** of level 1, 2, ... of a ``messageDelayLevel`` value.

    Raises ValueError naming the offending level and token for anything but
    ``<digits><s|m|h|d>`` tokens, and for an empty value (at least one level is required).
    """
    tokens = text.split()
    if not tokens:
        raise ValueError("messageDelayLevel is empty: expected e.g. '1s 5s 1m 2h'")
    delays: list[int] = []
    for position, token in enumerate(tokens, start=1):
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise ValueError(
                f"messageDelayLevel: level {position} {token!r} is not a number "
                "followed by one of s, m, h, d"
            )
        delays.append(int(match.group(1)) * DELAY_UNIT_MS[match.group(2)])
    return tuple(delays)
