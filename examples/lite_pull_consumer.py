"""Produce some messages, then poll them with a lite pull consumer and commit offsets.

python examples/lite_pull_consumer.py --namesrv 127.0.0.1:9876 --count 10
"""

from __future__ import annotations

import time

from _common import parse_args, run_id

from rmq_core.client import ConsumeFromWhere, Message
from rmq_core.client.sync import LitePullConsumer, Producer


def main() -> int:
    args = parse_args("Poll messages with a lite pull consumer.")
    run = run_id()
    with Producer("ExampleLiteProducer", args.namesrv) as producer:
        for i in range(args.count):
            msg = Message(args.topic, f"lite message {i}".encode())
            msg.put_user_property("run", run)
            producer.send(msg)

    consumer = LitePullConsumer(
        f"ExampleLiteConsumer-{run}",
        args.namesrv,
        consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
        auto_commit=False,
    )
    consumer.subscribe(args.topic, "*")
    received = 0
    deadline = time.monotonic() + args.timeout
    with consumer:
        while received < args.count and time.monotonic() < deadline:
            for msg in consumer.poll(timeout=1.0):
                if msg.properties.get("run") == run:
                    received += 1
                    print(f"polled {msg.body.decode()} (offset {msg.queue_offset})")
            consumer.commit()
    print(f"polled {received}/{args.count} messages")
    return 0 if received == args.count else 1


if __name__ == "__main__":
    raise SystemExit(main())
