"""rmq client errors -> kafka-python error classes, at the shim's boundary.

Every public shim method that calls the rmq client funnels failures through :func:`to_kafka`,
so callers only ever see :mod:`rmq_integrations.kafka.errors` classes (plus ``TypeError``/
``ValueError`` for bad arguments, as kafka-python raises). The RocketMQ text is kept in the
message and the original exception is the ``__cause__``.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

from rmq_core.client.sync import run_sync
from rmq_core.errors import (
    BrokerError,
    ClientError,
    FilterError,
    RemotingClosedError,
    RemotingConnectError,
    RemotingError,
    RequestTimeoutError,
    RocketMQError,
)
from rmq_integrations.kafka import errors

__all__ = ["call", "to_kafka"]

T = TypeVar("T")

# RocketMQ response code -> Kafka error class name (docs/kafka.md, "Errors").
_BY_RESPONSE_CODE: dict[int, str] = {
    1: "UnknownError",  # SYSTEM_ERROR
    2: "ThrottlingQuotaExceededError",  # SYSTEM_BUSY
    10: "RequestTimedOutError",  # FLUSH_DISK_TIMEOUT
    11: "NotEnoughReplicasError",  # SLAVE_NOT_AVAILABLE
    12: "NotEnoughReplicasAfterAppendError",  # FLUSH_SLAVE_TIMEOUT
    13: "InvalidRecordError",  # MESSAGE_ILLEGAL
    14: "LeaderNotAvailableError",  # SERVICE_NOT_AVAILABLE
    16: "TopicAuthorizationFailedError",  # NO_PERMISSION
    17: "UnknownTopicOrPartitionError",  # TOPIC_NOT_EXIST
    18: "TopicAlreadyExistsError",  # TOPIC_EXIST_ALREADY
    26: "GroupIdNotFoundError",  # SUBSCRIPTION_GROUP_NOT_EXIST
    29: "InvalidRequestError",  # INVALID_PARAMETER
}


def to_kafka(exc: BaseException, context: str = "") -> errors.KafkaError:
    """The kafka-python error for ``exc`` (an rmq error or a timeout); ``context`` is
    prepended to the message."""
    if isinstance(exc, errors.KafkaError):
        return exc
    text = f"{context}: {exc}" if context else str(exc)
    cls: type[errors.KafkaError]
    if isinstance(exc, RequestTimeoutError | TimeoutError | concurrent.futures.TimeoutError):
        cls = errors.KafkaTimeoutError
    elif isinstance(exc, RemotingConnectError | RemotingClosedError):
        cls = errors.NoBrokersAvailable if "NameServer" in str(exc) else errors.KafkaConnectionError
    elif isinstance(exc, RemotingError):
        cls = errors.KafkaProtocolError
    elif isinstance(exc, BrokerError):
        name = _BY_RESPONSE_CODE.get(exc.code, "UnknownError")
        if exc.code == 13 and "size" in str(exc):
            name = "MessageSizeTooLargeError"
        cls = getattr(errors, name)
    elif isinstance(exc, FilterError):
        cls = errors.IllegalArgumentError
    elif isinstance(exc, ClientError):
        cls = errors.IllegalStateError if "not running" in str(exc) else errors.KafkaError
    elif isinstance(exc, RocketMQError):
        cls = errors.UnknownError
    else:
        cls = errors.KafkaError
    error = cls(text)
    error.__cause__ = exc
    return error


def call(coro: Coroutine[Any, Any, T], timeout: float, context: str = "") -> T:
    """Run ``coro`` on the client's background loop (at most ``timeout`` s), translating
    rmq errors and timeouts into kafka-python's classes."""
    try:
        return run_sync(coro, timeout)
    except (RocketMQError, TimeoutError) as exc:
        raise to_kafka(exc, context) from exc
