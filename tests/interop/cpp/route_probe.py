"""Print how many queues the C++ client sees for a topic (0: no route or no NameServer).

Usage: python route_probe.py NAMESRV TOPIC. consume.py runs it in a child process before
starting its push consumer, so the probe's pull consumer cannot disturb the real one.
"""

from __future__ import annotations

import ctypes
import os
import sys


def main() -> None:
    namesrv, topic = sys.argv[1], sys.argv[2]
    from rocketmq.client import PullConsumer
    from rocketmq.exceptions import ffi_check
    from rocketmq.ffi import _CMessageQueue, dll

    consumer = PullConsumer(f"rmq_interop_route_probe_{os.getpid()}")
    consumer.set_namesrv_addr(namesrv)
    consumer.start()
    queues = ctypes.POINTER(_CMessageQueue)()
    size = ctypes.c_int()
    ffi_check(
        dll.FetchSubscriptionMessageQueues(
            consumer._handle, topic.encode(), ctypes.pointer(queues), ctypes.pointer(size)
        )
    )
    sys.stdout.write(f"{size.value}\n")
    sys.stdout.flush()
    os._exit(0)  # skip librocketmq's destructors


if __name__ == "__main__":
    main()
