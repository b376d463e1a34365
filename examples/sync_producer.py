"""Send messages with the blocking producer (DefaultMQProducer.send in Java).

python examples/sync_producer.py --namesrv 127.0.0.1:9876 --topic ExampleTopic --count 10
"""

from __future__ import annotations

from _common import parse_args

from rmq_core.client import Message, SendStatus
from rmq_core.client.sync import Producer


def main() -> int:
    args = parse_args("Send messages with the blocking producer.")
    ok = 0
    with Producer("ExampleSyncProducer", args.namesrv) as producer:
        for i in range(args.count):
            msg = Message(args.topic, f"Hello RocketMQ {i}".encode())
            msg.tags = "TagA"
            msg.keys = [f"KEY{i}"]
            result = producer.send(msg, timeout=args.timeout)
            ok += result.status is SendStatus.SEND_OK
            print(
                f"{result.status} msg_id={result.msg_id} "
                f"queue={result.message_queue.broker_name}:{result.message_queue.queue_id} "
                f"offset={result.queue_offset}"
            )
    print(f"sent {ok}/{args.count} messages to {args.topic}")
    return 0 if ok == args.count else 1


if __name__ == "__main__":
    raise SystemExit(main())
