"""Send messages concurrently with the asyncio producer, with result callbacks.

python examples/async_producer.py --namesrv 127.0.0.1:9876 --count 100
"""

from __future__ import annotations

import asyncio

from _common import parse_args

from rmq_core.client import Message, Producer, SendResult


async def main() -> int:
    args = parse_args("Send messages with the asyncio producer.", count=100)
    succeeded: list[SendResult] = []
    failed: list[BaseException] = []
    async with Producer("ExampleAsyncProducer", args.namesrv) as producer:
        tasks = []
        for i in range(args.count):
            msg = Message(args.topic, f"async message {i}".encode())
            msg.tags = "TagAsync"
            tasks.append(producer.send_async(msg, succeeded.append, failed.append))
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), args.timeout)
        await asyncio.sleep(0)  # let the last callbacks run
    print(f"sent {len(succeeded)}/{args.count} messages to {args.topic}, {len(failed)} failed")
    return 0 if len(succeeded) == args.count else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
