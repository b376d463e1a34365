"""``TransactionSettings``: the knobs of the transaction machinery (seconds in Python).

They mirror RocketMQ's broker.conf keys (``transactionCheckInterval``, ``transactionTimeOut``
and ``transactionCheckMax``, in ms / count there). The broker builds one from its current
config on every use, so UPDATE_BROKER_CONFIG changes apply to the next check round.
"""

from __future__ import annotations

from dataclasses import dataclass

from rmq_core.broker.config import BrokerConfig

__all__ = [
    "DEFAULT_CHECK_INTERVAL",
    "DEFAULT_CHECK_MAX",
    "DEFAULT_TRANSACTION_TIMEOUT",
    "TransactionSettings",
]

DEFAULT_CHECK_INTERVAL = 30.0
DEFAULT_TRANSACTION_TIMEOUT = 6.0
DEFAULT_CHECK_MAX = 15
DEFAULT_MAX_HALF_PER_ROUND = 2000
DEFAULT_MAX_OPS_PER_ROUND = 20000


@dataclass(frozen=True, slots=True)
class TransactionSettings:
    """Transaction check settings.

    - ``check_interval``: seconds between check rounds;
    - ``timeout``: seconds a half message stays unchecked after it was sent (unless it
      carries ``CHECK_IMMUNITY_TIME_IN_SECONDS``);
    - ``check_max``: check-backs before a half message is discarded;
    - ``file_reserved_time``: seconds after which an unresolved half message is discarded
      (the commit log may delete it anyway);
    - ``max_half_per_round`` / ``max_ops_per_round``: bounds of one round's work per queue.
    """

    check_interval: float = DEFAULT_CHECK_INTERVAL
    timeout: float = DEFAULT_TRANSACTION_TIMEOUT
    check_max: int = DEFAULT_CHECK_MAX
    file_reserved_time: float = 72 * 3600.0
    max_half_per_round: int = DEFAULT_MAX_HALF_PER_ROUND
    max_ops_per_round: int = DEFAULT_MAX_OPS_PER_ROUND

    def __post_init__(self) -> None:
        if self.check_interval <= 0:
            raise ValueError("transactionCheckInterval must be positive")
        if self.timeout < 0:
            raise ValueError("transactionTimeOut must not be negative")
        if self.check_max < 0:
            raise ValueError("transactionCheckMax must not be negative")
        if self.max_half_per_round <= 0 or self.max_ops_per_round <= 0:
            raise ValueError("per-round bounds must be positive")

    @classmethod
    def from_config(cls, config: BrokerConfig, file_reserved_hours: float) -> TransactionSettings:
        """Settings from the broker's config and the store's ``fileReservedTime`` (hours)."""
        return cls(
            check_interval=config.transaction_check_interval,
            timeout=config.transaction_timeout,
            check_max=config.transaction_check_max,
            file_reserved_time=file_reserved_hours * 3600.0,
        )

    @property
    def timeout_ms(self) -> int:
        """``timeout`` in milliseconds."""
        return round(self.timeout * 1000)
