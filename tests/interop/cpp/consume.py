"""Consume with the C++ push consumer until ``count`` distinct messages were handled.

Usage: python consume.py --namesrv 127.0.0.1:9876 --topic T --group G [--count N]
  [--expression 'TagA || TagB'] [--fail-first N] [--timeout SECONDS] [--linger SECONDS]
  [--properties seq,color] [--thread-count N] [--home DIR] | --json '{"namesrv": ...}'
One JSON line per delivery ("message") and one summary line, as ../node/consume.js. The C++
API cannot choose where a new group starts (always the last offset, unless the broker's
QUERY_CONSUMER_OFFSET new-group rule answers 0), so start it before producing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from typing import Any

import harness

FAIL_MARK = "rmq interop driver: failing on purpose"
CONSUME_SUCCESS = 0
RECONSUME_LATER = 1
SYSTEM_PROPERTIES = (
    "TAGS",
    "KEYS",
    "UNIQ_KEY",
    "RETRY_TOPIC",
    "ORIGIN_MESSAGE_ID",
    "REAL_TOPIC",
    "REAL_QID",
    "DELAY",
    "MIN_OFFSET",
    "MAX_OFFSET",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--namesrv")
    parser.add_argument("--topic")
    parser.add_argument("--group")
    parser.add_argument("--count")
    parser.add_argument("--expression")
    parser.add_argument("--fail-first")
    parser.add_argument("--timeout")
    parser.add_argument("--linger")
    parser.add_argument("--startup-timeout")
    parser.add_argument("--properties")
    parser.add_argument("--thread-count")
    parser.add_argument("--home")


DEFAULTS: dict[str, Any] = {
    "count": 1,
    "expression": "*",
    "fail_first": 0,
    "timeout": 60,
    "linger": 0,
    "startup_timeout": 15,
    "properties": "seq",
    "thread_count": 1,
    "home": None,
}


def text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "replace")


def describe(message: Any, property_names: list[str]) -> dict[str, Any]:
    """Everything the C API exposes about one received message."""
    body = message.body or b""
    keys = text(message.keys) or None
    properties = {}
    for name in (*SYSTEM_PROPERTIES, *property_names):
        value = text(message.get_property(name))
        if value:  # the C API answers "" for an absent property
            properties[name] = value
    return {
        "topic": message.topic,
        "tags": text(message.tags) or None,
        "keys": keys,
        "msgId": message.id,
        "queueId": message.queue_id,
        "queueOffset": message.queue_offset,
        "commitLogOffset": message.commit_log_offset,
        "reconsumeTimes": message.reconsume_times,
        "storeSize": message.store_size,
        "bornTimestamp": message.born_timestamp,
        "storeTimestamp": message.store_timestamp,
        "bodySize": len(body),
        "bodySha256": harness.sha256(body),
        "bodyMatchesKey": keys is not None and body == harness.body_for(keys, len(body)),
        "retryTopic": properties.get("RETRY_TOPIC"),
        "originMessageId": properties.get("ORIGIN_MESSAGE_ID"),
        "properties": properties,
    }


def route_queue_count(namesrv: str, topic: str, startup_timeout: float) -> int:
    """Poll route_probe.py until the topic has queues or ``startup_timeout`` passes."""
    probe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "route_probe.py")
    deadline = time.monotonic() + startup_timeout
    while True:
        try:
            result = subprocess.run(
                [sys.executable, probe, namesrv, topic],
                capture_output=True,
                text=True,
                timeout=max(startup_timeout, 5.0),
                check=False,
            )
            queues = int(result.stdout.strip() or "0")
        except (subprocess.TimeoutExpired, ValueError):
            queues = 0
        if queues > 0 or time.monotonic() >= deadline:
            return queues
        time.sleep(0.5)


class Tally:
    """Delivery bookkeeping shared by the callback threads."""

    def __init__(self, count: int, fail_first: int) -> None:
        self.count = count
        self.fail_first = fail_first
        self.seen: set[str] = set()
        self.deliveries = 0
        self.failed = 0
        self.duplicates = 0
        self.lock = threading.Lock()
        self.done = threading.Event()

    def record(self, identity: str) -> bool:
        """Count one delivery; True when the handler must fail it."""
        with self.lock:
            self.deliveries += 1
            if self.failed < self.fail_first:
                self.failed += 1
                return True
            if identity in self.seen:
                self.duplicates += 1
            self.seen.add(identity)
            if len(self.seen) >= self.count:
                self.done.set()
            return False


def main() -> None:
    values = harness.parse_options(add_arguments, DEFAULTS, ["namesrv", "topic", "group"])
    count = harness.to_int("count", values["count"], 0)
    fail_first = harness.to_int("fail-first", values["fail_first"], 0)
    timeout = harness.to_float("timeout", values["timeout"], 0.1)
    linger = harness.to_float("linger", values["linger"], 0)
    thread_count = harness.to_int("thread-count", values["thread_count"], 1)
    startup_timeout = harness.to_float("startup-timeout", values["startup_timeout"], 0)
    property_names = harness.to_list(values["properties"])
    home = harness.setup_home(values["home"])
    started = time.monotonic()
    tally = Tally(count, fail_first)

    def summary(**extra: Any) -> dict[str, Any]:
        with tally.lock:
            counts = {
                "received": len(tally.seen),
                "deliveries": tally.deliveries,
                "failed": tally.failed,
                "duplicates": tally.duplicates,
            }
        elapsed = int((time.monotonic() - started) * 1000)
        return {
            "client": "rocketmq-cpp",
            "role": "consumer",
            "expected": count,
            **counts,
            "elapsedMs": elapsed,
            "home": home,
            **extra,
        }

    def on_timeout() -> None:
        error = f"timeout after {timeout}s with {len(tally.seen)}/{count} messages"
        harness.finish(summary(ok=False, error=error))

    harness.start_deadline(timeout, on_timeout)
    if startup_timeout > 0:
        queues = route_queue_count(values["namesrv"], values["topic"], startup_timeout)
        if queues == 0:
            error = f"no route for {values['topic']} within {startup_timeout}s"
            harness.finish(summary(ok=False, error=error))
        harness.emit("route", topic=values["topic"], queues=queues)

    from rocketmq.client import PushConsumer, RecvMessage  # after HOME is set
    from rocketmq.exceptions import ffi_check
    from rocketmq.ffi import MSG_CALLBACK_FUNC, dll

    def on_message(_consumer: int, handle: int) -> int:
        # The wrapper's own subscribe() re-raises handler exceptions inside the ctypes
        # callback, which then returns 0 = CONSUME_SUCCESS: no retry ever happens. This
        # callback returns RECONSUME_LATER itself.
        try:
            message = RecvMessage(handle)
            details = describe(message, property_names)
            fail = tally.record(details["keys"] or details["msgId"])
            harness.emit("message", **details, outcome="fail" if fail else "ok")
            return RECONSUME_LATER if fail else CONSUME_SUCCESS
        except Exception as error:
            harness.emit("client_error", message=f"{type(error).__name__}: {error}")
            return RECONSUME_LATER

    consumer = PushConsumer(values["group"])
    consumer.set_namesrv_addr(values["namesrv"])
    consumer.set_thread_count(thread_count)
    callback = MSG_CALLBACK_FUNC(on_message)
    ffi_check(
        dll.Subscribe(consumer._handle, values["topic"].encode(), values["expression"].encode())
    )
    ffi_check(dll.RegisterMessageCallback(consumer._handle, callback))
    consumer.start()
    harness.emit("started", client="rocketmq-cpp", role="consumer", home=home)

    if count == 0 or tally.done.wait(timeout):
        time.sleep(linger)
        stopper = threading.Thread(target=consumer.shutdown, daemon=True)
        stopper.start()
        stopper.join(5.0)
        harness.finish(summary(ok=True))
    on_timeout()


if __name__ == "__main__":
    try:
        main()
    except Exception as error:
        harness.finish(
            {
                "ok": False,
                "client": "rocketmq-cpp",
                "role": "consumer",
                "error": f"{type(error).__name__}: {error}",
            }
        )
