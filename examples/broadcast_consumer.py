"""Broadcasting: every consumer of the group receives every message.

python examples/broadcast_consumer.py --namesrv 127.0.0.1:9876 --count 10
"""

from __future__ import annotations

import tempfile
import threading

from _common import parse_args, run_id

from rmq_core.client import ConsumeFromWhere, Message, MessageExt, MessageModel
from rmq_core.client.sync import Producer, PushConsumer

CONSUMERS = 2


def main() -> int:
    args = parse_args("Two broadcasting consumers each receive every message.")
    run = run_id()
    group = f"ExampleBroadcastConsumer-{run}"
    received: dict[int, set[str]] = {i: set() for i in range(CONSUMERS)}
    done = threading.Event()
    lock = threading.Lock()

    def make_listener(index: int):  # type: ignore[no-untyped-def]
        def listener(msgs: list[MessageExt]) -> None:
            with lock:
                for msg in msgs:
                    if msg.properties.get("run") == run:
                        received[index].add(msg.body.decode())
                if all(len(s) >= args.count for s in received.values()):
                    done.set()

        return listener

    with (
        tempfile.TemporaryDirectory() as offsets_dir,
        Producer("ExampleBroadcastProducer", args.namesrv) as producer,
    ):
        producer.fetch_publish_message_queues(args.topic)  # creates the topic if needed
        consumers = []
        for i in range(CONSUMERS):
            consumer = PushConsumer(
                group,
                args.namesrv,
                instance_name=f"broadcast-{run}-{i}",
                message_model=MessageModel.BROADCASTING,
                consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
                offset_store_dir=offsets_dir,
            )
            consumer.subscribe(args.topic, "*")
            consumer.register_message_listener(make_listener(i))
            consumer.start()
            consumers.append(consumer)
        try:
            for i in range(args.count):
                msg = Message(args.topic, f"broadcast {i}".encode())
                msg.put_user_property("run", run)
                producer.send(msg)
            done.wait(args.timeout)
        finally:
            for consumer in consumers:
                consumer.shutdown()
    for index, bodies in received.items():
        print(f"consumer {index} received {len(bodies)}/{args.count} messages")
    return 0 if all(len(s) == args.count for s in received.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
