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
from typing import Any

from rmq_core import BrokerError, RocketMQError
from rmq_core.admin import AdminClient
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.fastjson import loads as fastjson_loads
from rmq_core.remoting.headers import (
    DeleteKVConfigRequestHeader,
    DeleteSubscriptionGroupRequestHeader,
    GetKVListByNamespaceRequestHeader,
    PutKVConfigRequestHeader,
)

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
        header = PutKVConfigRequestHeader(namespace=namespace, key=key, value=value)
        await self._to_every_namesrv(RequestCode.PUT_KV_CONFIG, header, f"put {namespace}")

    async def _delete(self, namespace: str, key: str) -> None:
        header = DeleteKVConfigRequestHeader(namespace=namespace, key=key)
        await self._to_every_namesrv(RequestCode.DELETE_KV_CONFIG, header, f"delete {namespace}")

    async def _to_every_namesrv(self, code: int, header: Any, context: str) -> None:
        api = self.admin.api
        errors = []
        for addr in self.admin.namesrv_addrs:
            request = RemotingCommand.request(code, header)
            try:
                response = await api.invoke(addr, request, api.timeout, context)
                api.check(response, context)
            except RocketMQError as exc:
                errors.append(exc)
                log.warning("%s on NameServer %s failed: %s", context, addr, exc)
        if len(errors) == len(self.admin.namesrv_addrs):
            raise errors[-1]

    async def _list(self, namespace: str) -> dict[str, str]:
        header = GetKVListByNamespaceRequestHeader(namespace=namespace)
        api = self.admin.api
        response = await api.invoke_namesrv(
            lambda: RemotingCommand.request(RequestCode.GET_KVLIST_BY_NAMESPACE, header),
            f"read {namespace}",
        )
        if response.code == ResponseCode.QUERY_NOT_FOUND:
            return {}
        api.check(response, f"read {namespace}")
        try:
            table = fastjson_loads(response.body).get("table") or {}
        except (ValueError, AttributeError, RocketMQError) as exc:
            raise BrokerError(
                ResponseCode.SYSTEM_ERROR, f"malformed KV table of {namespace}: {exc}"
            ) from exc
        return {str(k): str(v) for k, v in table.items()}

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
        api = self.admin.api
        header = DeleteSubscriptionGroupRequestHeader(group_name=group, clean_offset=True)
        for addr in broker_addrs:
            request = RemotingCommand.request(RequestCode.DELETE_SUBSCRIPTIONGROUP, header)
            try:
                response = await api.invoke(addr, request, api.timeout, f"delete group {group}")
                api.check(response, f"delete group {group}")
            except RocketMQError as exc:
                log.info("deleting group %s on %s failed: %s", group, addr, exc)
