"""Transactional messages: a message is published only if its local transaction commits.

Sends ``--count`` orders; even ones commit, odd ones roll back. A push consumer then receives
exactly the committed ones. ``check_local_transaction`` shows how the producer answers the
broker when a transaction was left open (see docs/transactions.md).

    python examples/transaction_producer.py --namesrv 127.0.0.1:9876 --count 6
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from _common import parse_args, run_id

from rmq_core.client import (
    ConsumeFromWhere,
    LocalTransactionState,
    Message,
    MessageExt,
    PushConsumer,
    TransactionProducer,
)

COMMIT = LocalTransactionState.COMMIT_MESSAGE
ROLLBACK = LocalTransactionState.ROLLBACK_MESSAGE


class OrderTransactions:
    """A stand-in for a database: the orders that were written."""

    def __init__(self) -> None:
        self.orders: set[str] = set()

    def execute_local_transaction(self, msg: Message, order: Any) -> LocalTransactionState:
        if order % 2:
            return ROLLBACK  # e.g. the insert violated a constraint
        self.orders.add(msg.keys[0])
        return COMMIT

    def check_local_transaction(self, msg: MessageExt) -> LocalTransactionState:
        return COMMIT if msg.keys[0] in self.orders else ROLLBACK


async def main() -> int:
    args = parse_args("Send transactional messages.", count=6, topic="ExampleTxTopic")
    run = run_id()
    db = OrderTransactions()
    async with TransactionProducer("ExampleTxProducer", args.namesrv, listener=db) as producer:
        for order in range(args.count):
            msg = Message(args.topic, f"order {order}".encode())
            msg.keys = [f"order-{run}-{order}"]
            result = await producer.send_message_in_transaction(msg, arg=order)
            print(f"order {order}: {result.local_transaction_state.value}")

    received: list[str] = []
    expected = {f"order-{run}-{o}" for o in range(args.count) if o % 2 == 0}
    done = asyncio.Event()

    async def listener(msgs: list[MessageExt]) -> None:
        received.extend(m.keys[0] for m in msgs if m.keys and m.keys[0] in expected)
        if set(received) >= expected:
            done.set()

    consumer = PushConsumer(
        f"ExampleTxConsumer-{run}",
        args.namesrv,
        consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
    )
    consumer.subscribe(args.topic, "*")
    consumer.register_message_listener(listener)
    async with consumer:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), args.timeout)
        await asyncio.sleep(0.5)
    ok = sorted(received) == sorted(expected)
    print(f"received {len(received)} committed orders of {args.count} sent, exactly: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
