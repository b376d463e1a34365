"""LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42): orderly consumers' queue locks (reference §3.5).

Request body (both)::

    {"consumerGroup": "g", "clientId": "ip@pid", "onlyThisBroker": false,
     "mqSet": [{"topic": "T", "brokerName": "broker-a", "queueId": 0}, ...]}

LOCK answers SUCCESS with ``{"lockOKMQSet": [...]}``: the queues of the request the client
holds after the call. Queues held by another live client are simply absent (refused for those
queues only). UNLOCK answers SUCCESS with no body (it is often sent oneway). A body that is
not such an object answers SYSTEM_ERROR naming the problem; at most
:data:`MAX_QUEUES_PER_REQUEST` queues are accepted in one request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rmq_core.broker.context import BrokerContext
from rmq_core.broker.managers.rebalance_lock import LockedQueue, RebalanceLockManager
from rmq_core.broker.processors.common import BrokerProcessor, decode_json_body, json_body
from rmq_core.errors import RemoteProtocolError
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.transport import Connection

__all__ = ["MAX_QUEUES_PER_REQUEST", "LockBatchBody", "LockProcessor", "parse_lock_body"]

MAX_QUEUES_PER_REQUEST = 65536


@dataclass(frozen=True, slots=True)
class LockBatchBody:
    """A decoded LockBatchRequestBody / UnlockBatchRequestBody."""

    consumer_group: str
    client_id: str
    queues: tuple[LockedQueue, ...]
    only_this_broker: bool = False


def parse_lock_body(body: bytes) -> LockBatchBody:
    """Decode a lock/unlock body; raises ValueError (or RemoteProtocolError) when malformed."""
    data: Any = decode_json_body(body)
    if not isinstance(data, Mapping):
        raise ValueError("lock body must be a JSON object")
    group = data.get("consumerGroup")
    client_id = data.get("clientId")
    if not isinstance(group, str) or not group:
        raise ValueError("lock body without consumerGroup")
    if not isinstance(client_id, str) or not client_id:
        raise ValueError("lock body without clientId")
    raw_set = data.get("mqSet")
    if raw_set is None:
        raw_set = []
    if not isinstance(raw_set, list):
        raise ValueError("mqSet must be an array")
    if len(raw_set) > MAX_QUEUES_PER_REQUEST:
        raise ValueError(f"mqSet has {len(raw_set)} queues, over {MAX_QUEUES_PER_REQUEST}")
    queues = tuple(LockedQueue.from_json(item) for item in raw_set)
    return LockBatchBody(group, client_id, queues, bool(data.get("onlyThisBroker", False)))


class LockProcessor(BrokerProcessor):
    """Queue locks for orderly consumption."""

    codes = (RequestCode.LOCK_BATCH_MQ, RequestCode.UNLOCK_BATCH_MQ)

    def __init__(self, ctx: BrokerContext, locks: RebalanceLockManager) -> None:
        super().__init__(ctx)
        self.locks = locks

    async def process(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand | None:
        try:
            body = parse_lock_body(request.body)
        except (ValueError, RemoteProtocolError) as exc:
            return self.fail(request, ResponseCode.SYSTEM_ERROR, f"bad lock body: {exc}")
        if request.code == RequestCode.LOCK_BATCH_MQ:
            held = self.locks.try_lock_batch(body.consumer_group, body.queues, body.client_id)
            answer = {"lockOKMQSet": [mq.to_json() for mq in sorted(held)]}
            return self.ok(request, json_body(answer))
        self.locks.unlock_batch(body.consumer_group, body.queues, body.client_id)
        return self.ok(request)
