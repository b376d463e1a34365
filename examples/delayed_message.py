"""A delayed message: delay level 1 (1 s by default) holds it on the broker before delivery.

python examples/delayed_message.py --namesrv 127.0.0.1:9876
"""

from __future__ import annotations

import threading
import time

from _common import parse_args, run_id

from rmq_core.client import ConsumeFromWhere, Message, MessageExt
from rmq_core.client.sync import Producer, PushConsumer

DELAY_LEVEL = 1  # 1 s with the default messageDelayLevel
DELAY = 1.0


def main() -> int:
    args = parse_args("Send a delayed message and measure its delay.", count=1)
    run = run_id()
    delays: list[float] = []
    done = threading.Event()

    def listener(msgs: list[MessageExt]) -> None:
        for msg in msgs:
            if msg.properties.get("run") == run:
                delays.append(time.time() - int(msg.properties["sent_at_ms"]) / 1000)
                print(f"received {msg.body.decode()} after {delays[-1]:.2f} s")
        if len(delays) >= args.count:
            done.set()

    consumer = PushConsumer(
        f"ExampleDelayConsumer-{run}",
        args.namesrv,
        consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
    )
    with Producer("ExampleDelayProducer", args.namesrv) as producer:
        producer.fetch_publish_message_queues(args.topic)  # creates the topic if needed
        consumer.subscribe(args.topic, "*")
        consumer.register_message_listener(listener)
        with consumer:
            for i in range(args.count):
                msg = Message(args.topic, f"delayed message {i}".encode())
                msg.delay_time_level = DELAY_LEVEL
                msg.put_user_property("run", run)
                msg.put_user_property("sent_at_ms", str(time.time_ns() // 1_000_000))
                producer.send(msg)
            done.wait(args.timeout)
    late_enough = bool(delays) and min(delays) >= DELAY * 0.9
    print(f"received {len(delays)}/{args.count} delayed messages, delayed enough: {late_enough}")
    return 0 if len(delays) == args.count and late_enough else 1


if __name__ == "__main__":
    raise SystemExit(main())
