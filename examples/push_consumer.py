"""Produce some messages, then receive them with a push consumer (tag filter "TagA || TagB").

python examples/push_consumer.py --namesrv 127.0.0.1:9876 --count 10
"""

from __future__ import annotations

import threading

from _common import parse_args, run_id

from rmq_core.client import ConsumeFromWhere, ConsumeStatus, Message, MessageExt
from rmq_core.client.sync import Producer, PushConsumer


def main() -> int:
    args = parse_args("Receive messages with a push consumer.")
    run = run_id()
    with Producer("ExamplePushProducer", args.namesrv) as producer:
        for i in range(args.count):
            for tag in ("TagA", "TagC"):  # TagC is filtered out by the subscription
                msg = Message(args.topic, f"{tag} message {i}".encode())
                msg.tags = tag
                msg.put_user_property("run", run)
                producer.send(msg)

    received: list[MessageExt] = []
    done = threading.Event()

    def listener(msgs: list[MessageExt]) -> ConsumeStatus:
        for msg in msgs:
            if msg.properties.get("run") == run:
                received.append(msg)
                print(f"received {msg.tags} {msg.body.decode()} (queue {msg.queue_id})")
        if len(received) >= args.count:
            done.set()
        return ConsumeStatus.CONSUME_SUCCESS

    consumer = PushConsumer(
        f"ExamplePushConsumer-{run}",
        args.namesrv,
        consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
    )
    consumer.subscribe(args.topic, "TagA || TagB")
    consumer.register_message_listener(listener)
    with consumer:
        done.wait(args.timeout)
    wrong = [m for m in received if m.tags != "TagA"]
    print(f"received {len(received)}/{args.count} messages, {len(wrong)} with a wrong tag")
    return 0 if len(received) == args.count and not wrong else 1


if __name__ == "__main__":
    raise SystemExit(main())
