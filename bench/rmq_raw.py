"""A lean producer and puller for rmq written directly on :mod:`rmq_core.remoting`.

The full client (:class:`rmq_core.client.Producer`) builds a :class:`Message` per message,
chooses a queue with latency-aware fault tolerance, retries, and wraps results; that costs the
*client process* tens of µs per message. To measure what the **broker** sustains, the
pipelined workloads can use this lean path instead, which sends exactly the frames a Java
producer sends:

- ``SEND_MESSAGE_V2`` (one message) or ``SEND_BATCH_MESSAGE`` (a ``MessageBatch`` body: per
  entry ``int total | int magic | int bodyCRC | int flag | int bodyLen | body | short propsLen
  | props``) with a fresh ``UNIQ_KEY`` per message, like ``DefaultMQProducer.send(batch)``;
- ``PULL_MESSAGE`` without suspension; the records in the answer are decoded with the same
  :func:`rmq_core.common.message_codec.decode_records` the client uses.

Queues are taken from the topic route and used round-robin. The benchmark docs say which
workload uses which path.
"""

from __future__ import annotations

import asyncio
import itertools
import struct
import time
from collections.abc import Sequence
from itertools import repeat
from typing import Any

from bench.engine import SendOutcome
from rmq_core.common.message import MessageExt
from rmq_core.common.message_codec import create_uniq_id, decode_records, encode_properties
from rmq_core.remoting import fastjson
from rmq_core.remoting.client import RemotingClient
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import (
    CreateTopicRequestHeader,
    GetRouteInfoRequestHeader,
    PullMessageRequestHeader,
)

__all__ = [
    "RawProducer",
    "RawPuller",
    "TopicRoute",
    "ensure_topic",
    "fetch_route",
    "wait_route",
]

TIMEOUT = 10.0
"""Seconds a benchmark request may wait for its answer."""
DEFAULT_TOPIC = "TBW102"
_BATCH_HEAD = struct.Struct(">iiiii")  # total, magic, body CRC, flag, body length
_SHORT = struct.Struct(">h")
_UNIQ_KEY = "UNIQ_KEY"
_PULL_OK = {ResponseCode.SUCCESS}
_PULL_EMPTY = {
    ResponseCode.PULL_NOT_FOUND,
    ResponseCode.PULL_RETRY_IMMEDIATELY,
    ResponseCode.PULL_OFFSET_MOVED,
}
_SEND_OK = {ResponseCode.SUCCESS}
_FLAG_SUBSCRIPTION = 0x4  # PullSysFlag: the request carries its subscription expression


_ENTRY_LAYOUTS: dict[tuple[int, int], struct.Struct] = {}


def _entry_layout(body_len: int, props_len: int) -> struct.Struct:
    """One whole batch entry: head, body, properties length, properties (a few cached)."""
    layout = _ENTRY_LAYOUTS.get((body_len, props_len))
    if layout is None:
        if len(_ENTRY_LAYOUTS) >= 16:
            _ENTRY_LAYOUTS.clear()
        layout = struct.Struct(f">iiiii{body_len}sh{props_len}s")
        _ENTRY_LAYOUTS[(body_len, props_len)] = layout
    return layout


class TopicRoute:
    """Where a topic lives: the master broker address and its queue counts."""

    def __init__(self, broker_addr: str, broker_name: str, write_queues: int, read_queues: int):
        self.broker_addr = broker_addr
        self.broker_name = broker_name
        self.write_queues = write_queues
        self.read_queues = read_queues


async def fetch_route(remoting: RemotingClient, namesrv: str, topic: str) -> TopicRoute | None:
    """The route of ``topic`` from the NameServer; None when it has none (yet)."""
    request = RemotingCommand.request(
        RequestCode.GET_ROUTEINFO_BY_TOPIC, GetRouteInfoRequestHeader(topic=topic)
    )
    response = await remoting.invoke(namesrv, request, TIMEOUT)
    if response.code != ResponseCode.SUCCESS or not response.body:
        return None
    route = fastjson.loads(response.body)
    for broker in route.get("brokerDatas", []):
        addrs = {int(k): v for k, v in broker.get("brokerAddrs", {}).items()}
        if 0 not in addrs:
            continue
        for queue in route.get("queueDatas", []):
            if queue.get("brokerName") == broker.get("brokerName"):
                return TopicRoute(
                    addrs[0],
                    broker["brokerName"],
                    int(queue["writeQueueNums"]),
                    int(queue["readQueueNums"]),
                )
    return None


async def ensure_topic(
    remoting: RemotingClient, namesrv: str, topic: str, queues: int, timeout: float = 30.0
) -> TopicRoute:
    """Create ``topic`` with ``queues`` queues on the broker serving the default topic (if its
    route differs) and wait until the NameServer's route shows them."""
    deadline = time.monotonic() + timeout
    route = await fetch_route(remoting, namesrv, topic)
    if route is None or route.write_queues != queues:
        base = route or await wait_route(remoting, namesrv, DEFAULT_TOPIC, deadline)
        header = CreateTopicRequestHeader(
            topic=topic,
            default_topic=DEFAULT_TOPIC,
            read_queue_nums=queues,
            write_queue_nums=queues,
            perm=6,
            topic_filter_type="SINGLE_TAG",
        )
        request = RemotingCommand.request(RequestCode.UPDATE_AND_CREATE_TOPIC, header)
        response = await remoting.invoke(base.broker_addr, request, TIMEOUT)
        if response.code != ResponseCode.SUCCESS:
            raise RuntimeError(f"creating topic {topic} failed: {response.code} {response.remark}")
    while True:
        route = await fetch_route(remoting, namesrv, topic)
        if route is not None and route.write_queues == queues:
            return route
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {topic} did not show {queues} queues within {timeout}s")
        await asyncio.sleep(0.2)


async def wait_route(
    remoting: RemotingClient, namesrv: str, topic: str, deadline: float
) -> TopicRoute:
    """Poll the NameServer until ``topic`` has a route or ``deadline`` (monotonic) passes."""
    while True:
        route = await fetch_route(remoting, namesrv, topic)
        if route is not None:
            return route
        if time.monotonic() > deadline:
            raise TimeoutError(f"no broker registered a route for {topic}")
        await asyncio.sleep(0.2)


class _UniqKeys:
    """UNIQ_KEY values in the client's format: a per-process prefix (IP, pid, class-loader
    hash) from :func:`create_uniq_id`, then time and a counter, all upper-case hex."""

    def __init__(self) -> None:
        self._prefix = create_uniq_id()[:20]
        self._counter = itertools.count()

    def next_many(self, n: int) -> list[str]:
        stamp = int(time.time() * 1000) & 0xFFFFFFFF
        prefix = f"{self._prefix}{stamp:08X}"
        count = self._counter
        return [f"{prefix}{next(count) & 0xFFFF:04X}" for _ in range(n)]

    def properties_blob(self, n: int) -> bytes:
        """The properties strings ``UNIQ_KEY\x01<key>\x02`` of ``n`` new keys (the keys
        :meth:`next_many` would give), concatenated: all of one length, built by one
        %-format."""
        stamp = int(time.time() * 1000) & 0xFFFFFFFF
        entry = f"{_UNIQ_KEY}\x01{self._prefix}{stamp:08X}%04X\x02"
        count = self._counter
        return ((entry * n) % tuple([next(count) & 0xFFFF for _ in range(n)])).encode()


class RawProducer:
    """Sends to one topic over one connection to its master broker (round-robin queues)."""

    def __init__(
        self,
        namesrv: str,
        topic: str,
        *,
        group: str = "BenchmarkProducer",
        remoting: RemotingClient | None = None,
    ) -> None:
        self.namesrv = namesrv
        self.topic = topic
        self.group = group
        self.remoting = remoting or RemotingClient(name="bench-raw-producer")
        self.route: TopicRoute | None = None
        self._keys = _UniqKeys()
        self._queue_cycle: itertools.cycle[int] = itertools.cycle([0])
        self._conn: Any = None

    async def start(self, queues: int | None = None) -> TopicRoute:
        """Resolve (or, with ``queues``, create) the topic and connect to its broker."""
        if queues:
            self.route = await ensure_topic(self.remoting, self.namesrv, self.topic, queues)
        else:
            deadline = time.monotonic() + 30.0
            self.route = await wait_route(self.remoting, self.namesrv, self.topic, deadline)
        self._queue_cycle = itertools.cycle(range(self.route.write_queues))
        self._conn = await self.remoting.get_connection(self.route.broker_addr)
        return self.route

    async def close(self) -> None:
        """Close the connections."""
        await self.remoting.close()

    def _fields(self, queue_id: int, properties: str, batch: bool) -> dict[str, str]:
        fields = {
            "a": self.group,
            "b": self.topic,
            "c": DEFAULT_TOPIC,
            "d": "4",
            "e": str(queue_id),
            "f": "0",
            "g": str(int(time.time() * 1000)),
            "h": "0",
            "i": properties,
            "j": "0",
            "k": "false",
            "l": "0",
        }
        if batch:
            fields["m"] = "true"
        return fields

    def batch_body(self, bodies: Sequence[bytes]) -> bytes:
        """A ``MessageBatch`` body carrying ``bodies``, each with its own UNIQ_KEY.

        Bodies of one length (the benchmarks' case) are packed entry by entry with one struct
        of the whole entry; others part by part."""
        count = len(bodies)
        if not count:
            return b""
        blob = self._keys.properties_blob(count)
        step = len(blob) // count
        props = [blob[at : at + step] for at in range(0, len(blob), step)]
        body_len = len(bodies[0])
        if len(set(map(len, bodies))) != 1:
            return self._mixed_body(bodies, props)
        total = _BATCH_HEAD.size + body_len + 2 + step
        pack = _entry_layout(body_len, step).pack
        zero = repeat(0)
        return b"".join(
            map(
                pack, repeat(total), zero, zero, zero, repeat(body_len), bodies, repeat(step), props
            )
        )

    @staticmethod
    def _mixed_body(bodies: Sequence[bytes], props: list[bytes]) -> bytes:
        """:meth:`batch_body` for bodies of different lengths."""
        parts: list[bytes] = []
        append = parts.append
        head = _BATCH_HEAD.pack
        for body, prop in zip(bodies, props, strict=True):
            append(head(_BATCH_HEAD.size + len(body) + 2 + len(prop), 0, 0, 0, len(body)))
            append(body)
            append(_SHORT.pack(len(prop)))
            append(prop)
        return b"".join(parts)

    def request(self, bodies: Sequence[bytes], *, oneway: bool = False) -> RemotingCommand:
        """The request carrying ``bodies`` (one: SEND_MESSAGE_V2, more: SEND_BATCH_MESSAGE)
        to the next queue."""
        queue_id = next(self._queue_cycle)
        if len(bodies) == 1:
            (key,) = self._keys.next_many(1)
            props = encode_properties({_UNIQ_KEY: key, "WAIT": "true"})
            fields = self._fields(queue_id, props, batch=False)
            code, body = RequestCode.SEND_MESSAGE_V2, bodies[0]
        else:
            fields = self._fields(queue_id, "WAIT\x01true\x02", batch=True)
            code, body = RequestCode.SEND_BATCH_MESSAGE, self.batch_body(bodies)
        return RemotingCommand.request(code, body=body, oneway=oneway, ext_fields=fields)

    async def send(self, bodies: Sequence[bytes]) -> SendOutcome:
        """Send ``bodies`` in one request and wait for the answer."""
        conn = self._conn
        if conn is None or conn.closed:
            assert self.route is not None
            conn = self._conn = await self.remoting.get_connection(self.route.broker_addr)
        response = await conn.invoke(self.request(bodies), TIMEOUT)
        if response.code in _SEND_OK:
            return SendOutcome(len(bodies))
        return SendOutcome(0, len(bodies))

    async def send_oneway(self, bodies: Sequence[bytes]) -> SendOutcome:
        """Send ``bodies`` in one oneway request (no answer)."""
        conn = self._conn
        assert conn is not None
        await conn.invoke_oneway(self.request(bodies, oneway=True), TIMEOUT)
        return SendOutcome(len(bodies))


class RawPuller:
    """Pulls every queue of a topic from an offset, without long polling.

    Lean like the producer: a pull request is a copy of one prepared set of header fields
    with the queue id and offset filled in (3.1 -> 0.9 us a request, the same fields and
    bytes as a ``PullMessageRequestHeader``), and of the answer's header only
    ``nextBeginOffset`` is read (1.9 -> 0.2 us). Records are decoded by
    :func:`~rmq_core.common.message_codec.decode_records`, properties on first access.
    """

    def __init__(
        self,
        remoting: RemotingClient,
        route: TopicRoute,
        topic: str,
        group: str,
        *,
        max_msg_nums: int = 32,
    ) -> None:
        self.remoting = remoting
        self.route = route
        self.topic = topic
        self.group = group
        self.max_msg_nums = max_msg_nums
        self._fields = PullMessageRequestHeader(
            consumer_group=group,
            topic=topic,
            queue_id=0,
            queue_offset=0,
            max_msg_nums=max_msg_nums,
            sys_flag=_FLAG_SUBSCRIPTION,
            commit_offset=0,
            suspend_timeout_millis=0,
            subscription="*",
            sub_version=int(time.time() * 1000),
            expression_type="TAG",
        ).to_ext_fields()

    async def pull(self, queue_id: int, offset: int) -> tuple[list[MessageExt], int]:
        """One pull at ``offset``: the decoded messages and the next offset (``offset`` again
        when nothing is there)."""
        fields = self._fields.copy()
        fields["queueId"] = str(queue_id)
        fields["queueOffset"] = str(offset)
        request = RemotingCommand(RequestCode.PULL_MESSAGE, ext_fields=fields)
        response = await self.remoting.invoke(self.route.broker_addr, request, TIMEOUT)
        if response.code in _PULL_EMPTY:
            return [], offset
        if response.code not in _PULL_OK:
            raise RuntimeError(f"pull failed: {response.code} {response.remark}")
        return decode_records(response.body), int(response.ext_fields["nextBeginOffset"])
