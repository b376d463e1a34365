"""Ordered messages: each order's steps go to one queue (hash of the order id) and an
orderly push consumer receives them in sequence.

    python examples/ordered_messages.py --namesrv 127.0.0.1:9876 --count 5
"""

from __future__ import annotations

import threading

from _common import parse_args, run_id

from rmq_core.client import (
    ConsumeFromWhere,
    ConsumeOrderlyStatus,
    Message,
    MessageExt,
    SelectMessageQueueByHash,
)
from rmq_core.client.sync import Producer, PushConsumer

ORDERS = 3
STEPS = ("created", "paid", "shipped", "delivered", "closed")


def main() -> int:
    args = parse_args(
        "Send and consume ordered messages.", count=len(STEPS), topic="ExampleOrderTopic"
    )
    run = run_id()
    steps = STEPS[: max(1, min(args.count, len(STEPS)))]
    with Producer("ExampleOrderProducer", args.namesrv) as producer:
        for step in steps:
            for order in range(ORDERS):
                msg = Message(args.topic, f"order {order} {step}".encode())
                msg.keys = [f"order-{order}"]
                msg.put_user_property("run", run)
                msg.put_user_property("order", str(order))
                producer.send(msg, selector=SelectMessageQueueByHash(), arg=order)

    seen: dict[str, list[str]] = {}
    done = threading.Event()

    def listener(msgs: list[MessageExt]) -> ConsumeOrderlyStatus:
        for msg in msgs:
            if msg.properties.get("run") != run:
                continue
            order = msg.properties["order"]
            seen.setdefault(order, []).append(msg.body.decode().split()[-1])
            print(f"order {order}: {seen[order][-1]} (queue {msg.queue_id})")
        if sum(len(v) for v in seen.values()) >= ORDERS * len(steps):
            done.set()
        return ConsumeOrderlyStatus.SUCCESS

    consumer = PushConsumer(
        f"ExampleOrderConsumer-{run}",
        args.namesrv,
        consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
    )
    consumer.subscribe(args.topic, "*")
    consumer.register_message_listener(listener, orderly=True)
    with consumer:
        done.wait(args.timeout)
    in_order = all(seen.get(str(o)) == list(steps) for o in range(ORDERS))
    total = sum(len(v) for v in seen.values())
    print(f"received {total} steps of {ORDERS} orders, in order: {in_order}")
    return 0 if in_order else 1


if __name__ == "__main__":
    raise SystemExit(main())
