"""Server-side state of the kombu transport: exchange types and binding tables, and the
removal of a deleted queue's consumer group.

kombu's virtual transports keep bindings per process; a worker publishing an ``rpc://``
result to exchange ``c.rep`` or a control reply never bound those queues itself, so the
tables must live on the server. They are kept in the NameServer's KV configuration
(PUT/DELETE_KV_CONFIG, GET_KVLIST_BY_NAMESPACE: a standard RocketMQ NameServer feature,
persisted in its ``kvConfig.json``), written to every NameServer and read from any:

- namespace ``<prefix>.exchanges``: exchange name -> type (``direct``/``topic``/``fanout``);
- namespace ``<prefix>.bindings.<exchange>``: key ``["routing key", "pattern", "queue"]``
  (JSON), value ``1``.

``<prefix>`` is ``kombu`` plus the connection's virtual host (``kombu`` for ``/``), so
applications on different virtual hosts do not see each other's bindings. Everything here is
async and runs on the client loop of :mod:`rmq_core.client.sync`.
"""

from __future__ import annotations

import json
import logging

from rmq_core import RocketMQError
from rmq_core.admin import AdminClient

__all__ = ["Binding", "ServerState", "kv_prefix"]

log = logging.getLogger(__name__)

Binding = tuple[str, str, str]
"""``(routing_key, pattern, queue)`` as kombu's exchange types expect them."""


def kv_prefix(virtual_host: str | None) -> str:
    """``kombu`` for the default virtual host, ``kombu:<vhost>`` otherwise."""
    vhost = (virtual_host or "/").strip("/")
    return f"kombu:{vhost}" if vhost else "kombu"


class ServerState:
    """Exchange types and bindings in the NameServers' KV tables (see the module docstring)."""

    def __init__(self, admin: AdminClient, prefix: str) -> None:
        self.admin = admin
        self.prefix = prefix

    def _bindings_ns(self, exchange: str) -> str:
        return f"{self.prefix}.bindings.{exchange}"

    @property
    def _exchanges_ns(self) -> str:
        return f"{self.prefix}.exchanges"

    # --- KV plumbing -----------------------------------------------------------------------

    async def _put(self, namespace: str, key: str, value: str) -> None:
        await self.admin.put_kv_config(namespace, key, value)

    async def _delete(self, namespace: str, key: str) -> None:
        await self.admin.delete_kv_config(namespace, key)

    async def _list(self, namespace: str) -> dict[str, str]:
        return await self.admin.get_kv_list(namespace)

    # --- exchanges and bindings ------------------------------------------------------------

    async def declare_exchange(self, exchange: str, exchange_type: str) -> None:
        """Record ``exchange``'s type (so processes that never declared it route right)."""
        await self._put(self._exchanges_ns, exchange, exchange_type)

    async def exchange_type(self, exchange: str) -> str | None:
        """The recorded type of ``exchange``, or None."""
        return (await self._list(self._exchanges_ns)).get(exchange)

    async def bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        """Add a binding of ``queue`` to ``exchange``."""
        key = json.dumps([routing_key or "", pattern or "", queue])
        await self._put(self._bindings_ns(exchange), key, "1")

    async def unbind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        """Remove one binding."""
        key = json.dumps([routing_key or "", pattern or "", queue])
        await self._delete(self._bindings_ns(exchange), key)

    async def table(self, exchange: str) -> list[Binding]:
        """Every binding of ``exchange``; malformed entries are skipped with a warning."""
        out: list[Binding] = []
        for key in await self._list(self._bindings_ns(exchange)):
            try:
                routing_key, pattern, queue = json.loads(key)
            except (ValueError, TypeError):
                log.warning("ignoring malformed binding %r of exchange %s", key, exchange)
                continue
            out.append((str(routing_key), str(pattern), str(queue)))
        return out

    async def unbind_queue(self, queue: str) -> int:
        """Remove every binding of ``queue`` on every known exchange; returns how many."""
        removed = 0
        for exchange in await self._list(self._exchanges_ns):
            for routing_key, pattern, bound in await self.table(exchange):
                if bound == queue:
                    await self.unbind(exchange, routing_key, pattern, bound)
                    removed += 1
        return removed

    # --- groups ----------------------------------------------------------------------------

    async def delete_group(self, broker_addrs: list[str], group: str) -> None:
        """Delete ``group`` (and its offsets) on every broker in ``broker_addrs``."""
        for addr in broker_addrs:
            try:
                await self.admin.delete_subscription_group(group, broker_addr=addr)
            except RocketMQError as exc:
                log.info("deleting group %s on %s failed: %s", group, addr, exc)
