"""Send ``count`` messages with the C++ client; one JSON line per message and one summary.

Usage: python produce.py --namesrv 127.0.0.1:9876 --topic T [--group G] [--count N]
  [--tags TagA,TagB] [--key-prefix P] [--body-size BYTES] [--property k=v ...]
  [--timeout SECONDS] [--send-timeout-ms MS] [--home DIR] | --json '{"namesrv": ...}'
Message i: key "<key-prefix>-<i>", tag tags[i % len] (none when empty), user property
seq=<i> plus every --property, body body_for(key, body-size) (no NUL bytes: see README).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import harness


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--namesrv")
    parser.add_argument("--topic")
    parser.add_argument("--group")
    parser.add_argument("--count")
    parser.add_argument("--tags")
    parser.add_argument("--key-prefix")
    parser.add_argument("--body-size")
    parser.add_argument("--property", action="append")
    parser.add_argument("--timeout")
    parser.add_argument("--send-timeout-ms")
    parser.add_argument("--home")


DEFAULTS: dict[str, Any] = {
    "group": "rmq_interop_cpp_producer",
    "count": 1,
    "tags": "",
    "key_prefix": f"cpp-{os.getpid()}",
    "body_size": 64,
    "property": None,
    "timeout": 60,
    "send_timeout_ms": 3000,
    "home": None,
}


def main() -> None:
    values = harness.parse_options(add_arguments, DEFAULTS, ["namesrv", "topic"])
    count = harness.to_int("count", values["count"], 0)
    tags = harness.to_list(values["tags"])
    body_size = harness.to_int("body-size", values["body_size"], 0)
    properties = harness.to_properties(values["property"])
    timeout = harness.to_float("timeout", values["timeout"], 0.1)
    send_timeout_ms = harness.to_int("send-timeout-ms", values["send_timeout_ms"], 1)
    home = harness.setup_home(values["home"])
    started = time.monotonic()
    stats = {"sent": 0, "failed": 0}

    def summary(**extra: Any) -> dict[str, Any]:
        elapsed = int((time.monotonic() - started) * 1000)
        return {
            "client": "rocketmq-cpp",
            "role": "producer",
            "requested": count,
            **stats,
            "elapsedMs": elapsed,
            "home": home,
            **extra,
        }

    harness.start_deadline(
        timeout, lambda: harness.finish(summary(ok=False, error=f"timeout after {timeout}s"))
    )

    from rocketmq.client import Message, Producer  # after HOME is set
    from rocketmq.ffi import dll

    producer = Producer(values["group"], timeout=send_timeout_ms)
    producer.set_namesrv_addr(values["namesrv"])
    producer.start()
    harness.emit("started", client="rocketmq-cpp", role="producer", home=home)

    for index in range(count):
        key = f"{values['key_prefix']}-{index}"
        tag = tags[index % len(tags)] if tags else None
        body = harness.body_for(key, body_size)
        message = Message(values["topic"])
        message.set_keys(key)
        if tag is not None:
            message.set_tags(tag)
        for name, value in {**properties, "seq": str(index)}.items():
            message.set_property(name, value)
        # SetMessageBody takes a C string; the byte variant keeps the exact length.
        dll.SetByteMessageBody(message._handle, body, len(body))
        try:
            result = producer.send_sync(message)
        except Exception as error:  # the wrapper raises its own exception classes
            stats["failed"] += 1
            harness.emit("send_error", index=index, key=key, error=str(error))
            harness.finish(summary(ok=False, error=f"send {index} failed: {error}"))
        stats["sent"] += 1
        harness.emit(
            "sent",
            index=index,
            key=key,
            tag=tag,
            bodySize=body_size,
            bodySha256=harness.sha256(body),
            status=result.status.name,
            msgId=result.msg_id,
            queueOffset=result.offset,
        )
    harness.finish(summary(ok=stats["sent"] == count))


if __name__ == "__main__":
    try:
        main()
    except Exception as error:
        harness.finish(
            {
                "ok": False,
                "client": "rocketmq-cpp",
                "role": "producer",
                "error": f"{type(error).__name__}: {error}",
            }
        )
