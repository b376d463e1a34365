"""The error hierarchy of rmq.

Every error raised by rmq derives from :class:`RocketMQError`. Each carries a ``retriable``
flag telling a caller whether trying again (possibly elsewhere) can succeed. Errors are
translated at the boundary of each layer and raised ``from`` their cause.

Tree::

    RocketMQError
    ├── RemotingError                 transport and protocol failures
    │   ├── RemoteProtocolError       bytes that are not a valid frame / header / body
    │   │   └── FrameTooLargeError    a frame longer than the configured limit
    │   ├── RemotingConnectError      could not connect
    │   ├── RemotingClosedError       the connection closed with the call pending
    │   └── RequestTimeoutError       no answer in time (also a builtin TimeoutError)
    ├── BrokerError                   a peer answered with a non-success response code
    ├── ClientError                   misuse of the client API or client-side validation
    ├── StoreError                    the message store could not do what was asked
    └── FilterError                   an unparsable filter expression (with position)
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BrokerError",
    "ClientError",
    "FilterError",
    "FlushDiskTimeoutError",
    "FrameTooLargeError",
    "MessageIllegalError",
    "NoPermissionError",
    "RemoteProtocolError",
    "RemotingClosedError",
    "RemotingConnectError",
    "RemotingError",
    "RequestTimeoutError",
    "RocketMQError",
    "ServiceNotAvailableError",
    "StoreError",
    "SystemBusyError",
    "TopicNotExistError",
]


class RocketMQError(Exception):
    """Root of every rmq error. ``retriable`` says whether a retry may succeed."""

    retriable: bool = False

    def __init__(self, message: str = "", *, retriable: bool | None = None) -> None:
        super().__init__(message)
        if retriable is not None:
            self.retriable = retriable


class RemotingError(RocketMQError):
    """A failure of the transport or of the remoting protocol."""

    retriable = True


class RemoteProtocolError(RemotingError):
    """Bytes received that do not form a valid frame, header or body."""

    retriable = False


class FrameTooLargeError(RemoteProtocolError):
    """A frame announced a length over the configured maximum (16 MiB by default)."""


class RemotingConnectError(RemotingError):
    """A connection to ``address`` could not be established."""


class RemotingClosedError(RemotingError):
    """The connection closed while a call was pending."""


class RequestTimeoutError(RemotingError, TimeoutError):
    """No response arrived within the call's timeout."""


# Response codes after which RocketMQ's producer retries on another queue or broker
# (DefaultMQProducer.retryResponseCodes): TOPIC_NOT_EXIST, SERVICE_NOT_AVAILABLE,
# SYSTEM_ERROR, SYSTEM_BUSY, NO_PERMISSION, NO_BUYER_ID, NOT_IN_CURRENT_UNIT, GO_AWAY.
_RETRIABLE_RESPONSE_CODES = frozenset({17, 14, 1, 2, 16, 204, 205, 1500})


class BrokerError(RocketMQError):
    """A NameServer or broker answered with response ``code`` and ``remark``.

    Use :meth:`for_code` to build one; it picks the subclass registered for the code and
    sets ``retriable`` the way RocketMQ's producer decides whether to retry.
    """

    code: int
    remark: str
    _by_code: ClassVar[dict[int, type[BrokerError]]] = {}

    def __init__(self, code: int, remark: str = "", *, context: str = "") -> None:
        text = f"CODE: {code} DESC: {remark}"
        if context:
            text = f"{text} ({context})"
        super().__init__(text, retriable=code in _RETRIABLE_RESPONSE_CODES)
        self.code = code
        self.remark = remark

    @classmethod
    def register(cls, code: int) -> type[BrokerError]:
        """Use ``cls`` for responses with ``code``; returns ``cls`` so it works as a decorator."""
        BrokerError._by_code[code] = cls
        return cls

    @staticmethod
    def for_code(code: int, remark: str = "", *, context: str = "") -> BrokerError:
        """Build the most specific error for ``code``."""
        error_class = BrokerError._by_code.get(code, BrokerError)
        return error_class(code, remark, context=context)


class TopicNotExistError(BrokerError):
    """The topic has no route or is unknown to the broker (code 17)."""


class ServiceNotAvailableError(BrokerError):
    """The broker or NameServer is not able to serve now (code 14)."""


class SystemBusyError(BrokerError):
    """The server's pool for the request was full (code 2)."""


class NoPermissionError(BrokerError):
    """The topic or broker forbids the operation (code 16)."""


class MessageIllegalError(BrokerError):
    """The message was refused as illegal: size, topic name, properties (code 13)."""


class FlushDiskTimeoutError(BrokerError):
    """The message was stored but its flush to disk missed the timeout (code 10)."""


for _code, _cls in (
    (17, TopicNotExistError),
    (14, ServiceNotAvailableError),
    (2, SystemBusyError),
    (16, NoPermissionError),
    (13, MessageIllegalError),
    (10, FlushDiskTimeoutError),
):
    _cls.register(_code)


class ClientError(RocketMQError):
    """The client API was misused or a request failed client-side validation."""


class StoreError(RocketMQError):
    """The message store could not complete an operation."""


class FilterError(RocketMQError):
    """An unparsable filter expression; ``position`` is the 0-based offset of the bad token."""

    def __init__(self, message: str, *, expression: str = "", position: int = -1) -> None:
        if position >= 0:
            message = f"{message} at position {position}"
        super().__init__(message)
        self.expression = expression
        self.position = position
