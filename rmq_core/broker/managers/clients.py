"""What the broker knows about one client connection (Java ``ClientChannelInfo``).

``ClientConnection`` is the part of :class:`rmq_core.remoting.transport.Connection` the
managers use, written as a Protocol so unit tests can pass a small fake.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["ClientChannelInfo", "ClientConnection"]


class ClientConnection(Protocol):
    """A live connection to a client (hashable: managers key tables by it)."""

    @property
    def remote_address(self) -> str:
        """``ip:port`` of the peer."""

    @property
    def closed(self) -> bool:
        """True once the connection is closed."""

    async def invoke_oneway(self, request: Any) -> None:
        """Send a oneway request to the client."""

    def close(self) -> None:
        """Close the connection."""


@dataclass(slots=True, eq=False)
class ClientChannelInfo:
    """A client (``client_id``) reached over ``connection``; ``last_update`` is monotonic s."""

    connection: ClientConnection
    client_id: str
    language: str = "JAVA"
    version: int = 0
    last_update: float = field(default_factory=time.monotonic)

    @property
    def address(self) -> str:
        """The peer's ``ip:port``."""
        return self.connection.remote_address

    def to_connection_json(self) -> dict[str, Any]:
        """The ``Connection`` body object used by connection-list admin answers."""
        return {
            "clientAddr": self.address,
            "clientId": self.client_id,
            "language": self.language,
            "version": self.version,
        }
