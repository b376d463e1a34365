"""The Table API / SQL connector (``'connector' = 'rocketmq'``) in real local PyFlink
TableEnvironments against ``rmq standalone``: bounded scans return exactly the produced rows
(json and raw formats, metadata columns, tag / SQL92 filters, explicit offset ranges), INSERT
INTO writes rows readable back (metadata columns set tag, keys and properties; exactly-once
from one rocketmq table into another), and bad options fail planning naming the option."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from rmq_flink import add_connector_jar

from rmq_core.client import Message
from rmq_core.client.sync import Producer
from rmq_core.common.message import MessageSysFlag
from tests.flink.support import Broker, bodies, create_topic, produce, read_topic, unique

JOB_TIMEOUT = 90.0  # s


def table_env(parallelism: int = 2) -> Any:
    """A streaming TableEnvironment with the connector jar and no restarts."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    config = t_env.get_config()
    config.set("parallelism.default", str(parallelism))
    config.set("restart-strategy.type", "none")
    add_connector_jar(t_env)
    return t_env


def collect(t_env: Any, sql: str, timeout: float = JOB_TIMEOUT) -> list[tuple[Any, ...]]:
    """Rows of a bounded query; the job is cancelled and TimeoutError raised after ``timeout``."""
    result = t_env.execute_sql(sql)
    rows: list[tuple[Any, ...]] = []
    errors: list[BaseException] = []

    def pump() -> None:
        try:
            with result.collect() as results:
                rows.extend(tuple(r) for r in results)
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    reader.join(timeout)
    if reader.is_alive():
        result.get_job_client().cancel()
        raise TimeoutError(f"query did not end within {timeout} s: {sql}")
    if errors:
        raise errors[0]
    return rows


def execute(t_env: Any, sql: str, timeout: float = JOB_TIMEOUT) -> None:
    """Run an INSERT to its end (bounded input); a failed job raises its cause."""
    t_env.execute_sql(sql).wait(round(timeout * 1000))


def options(**values: str) -> str:
    """A WITH clause: keyword names use ``_`` for ``.`` and ``__`` for ``-``."""
    pairs = [(k.replace("__", "-").replace("_", "."), v) for k, v in values.items()]
    return ", ".join(f"'{k}' = '{v}'" for k, v in [("connector", "rocketmq"), *pairs])


def send(namesrv: str, topic: str, rows: list[tuple[str, str | None, str | None]]) -> None:
    """Send (body, tag, keys) messages round-robin over the topic's queues."""
    with Producer(unique("flink-table"), namesrv) as producer:
        for body, tag, keys in rows:
            msg = Message(topic, body.encode())
            if tag:
                msg.tags = tag
            if keys:
                msg.keys = keys
            producer.send(msg)


# --- scans ------------------------------------------------------------------------------------


def test_bounded_json_scan_returns_exactly_the_produced_rows_with_metadata(
    broker: Broker, flink_jar: Path
) -> None:
    topic = create_topic(broker.namesrv, unique("tjson"), queues=2)
    produced = [
        (json.dumps({"id": i, "name": f"n{i}"}), "A" if i % 3 else "B", f"k{i} x{i}")
        for i in range(12)
    ]
    send(broker.namesrv, topic, produced)
    t_env = table_env()
    with_clause = options(
        namesrv=broker.namesrv,
        topic=topic,
        group=unique("g"),
        format="json",
        scan_startup_mode="earliest",
        scan_bounded_mode="latest",
    )
    t_env.execute_sql(
        f"""CREATE TABLE src (
            id INT, name STRING,
            tp STRING METADATA FROM 'topic' VIRTUAL,
            broker STRING METADATA VIRTUAL,
            q INT METADATA FROM 'queue_id' VIRTUAL,
            off BIGINT METADATA FROM 'offset' VIRTUAL,
            tags STRING METADATA VIRTUAL,
            `keys` STRING METADATA VIRTUAL,
            msg_id STRING METADATA VIRTUAL,
            stored TIMESTAMP_LTZ(3) METADATA FROM 'store_timestamp' VIRTUAL
        ) WITH ({with_clause})"""
    )
    # TIMESTAMP_LTZ values cannot be collected into Python: cast them to TIMESTAMP.
    rows = collect(
        t_env,
        "SELECT id, name, tp, broker, q, off, tags, `keys`, msg_id, "
        "CAST(stored AS TIMESTAMP(3)) FROM src",
    )
    assert sorted((r[0], r[1]) for r in rows) == [(i, f"n{i}") for i in range(12)]
    assert {r[2] for r in rows} == {topic}
    assert all(r[3] and r[8] and isinstance(r[9], datetime) for r in rows)
    positions = sorted((r[4], r[5]) for r in rows)
    assert positions == sorted((q, o) for q in (0, 1) for o in range(6))
    assert {r[0]: (r[6], r[7]) for r in rows} == {
        i: ("A" if i % 3 else "B", f"k{i} x{i}") for i in range(12)
    }

    tagged = collect(t_env, "SELECT id FROM src /*+ OPTIONS('tag' = 'B') */")
    assert sorted(r[0] for r in tagged) == [0, 3, 6, 9]


def test_raw_scan_reads_exactly_the_given_offset_ranges(broker: Broker, flink_jar: Path) -> None:
    topic = create_topic(broker.namesrv, unique("traw"), queues=2)
    for q in (0, 1):
        produce(broker.namesrv, topic, [f"q{q}-{i}" for i in range(8)], queue_id=q)
    t_env = table_env()
    with_clause = options(
        namesrv=broker.namesrv,
        topic=topic,
        group=unique("g"),
        format="raw",
        scan_startup_mode="specific-offsets",
        scan_startup_specific__offsets="queue:0,offset:2;queue:1,offset:5",
        scan_bounded_mode="specific-offsets",
        scan_bounded_specific__offsets="queue:0,offset:6;queue:1,offset:7",
    )
    t_env.execute_sql(f"CREATE TABLE src (line STRING) WITH ({with_clause})")
    rows = collect(t_env, "SELECT line FROM src")
    expected = [f"q0-{i}" for i in range(2, 6)] + [f"q1-{i}" for i in range(5, 7)]
    assert sorted(r[0] for r in rows) == sorted(expected)


def test_timestamp_start_and_stop_split_the_topic_in_batch_mode(
    broker: Broker, flink_jar: Path
) -> None:
    from pyflink.table import EnvironmentSettings, TableEnvironment

    topic = create_topic(broker.namesrv, unique("tts"), queues=2)
    produce(broker.namesrv, topic, [f"early-{i}" for i in range(6)])
    time.sleep(0.05)
    split_ms = int(time.time() * 1000)
    time.sleep(0.05)
    produce(broker.namesrv, topic, [f"late-{i}" for i in range(6)])
    t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    add_connector_jar(t_env)
    common = {"namesrv": broker.namesrv, "topic": topic, "group": unique("g"), "format": "raw"}
    late = options(**common, scan_startup_mode="timestamp", scan_bounded_mode="latest")
    late += f", 'scan.startup.timestamp-millis' = '{split_ms}'"
    early = options(**common, scan_startup_mode="earliest", scan_bounded_mode="timestamp")
    early += f", 'scan.bounded.timestamp-millis' = '{split_ms}'"
    t_env.execute_sql(f"CREATE TABLE late_t (v STRING) WITH ({late})")
    t_env.execute_sql(f"CREATE TABLE early_t (v STRING) WITH ({early})")
    assert sorted(r[0] for r in collect(t_env, "SELECT v FROM late_t")) == [
        f"late-{i}" for i in range(6)
    ]
    assert sorted(r[0] for r in collect(t_env, "SELECT v FROM early_t")) == [
        f"early-{i}" for i in range(6)
    ]


# --- sinks ------------------------------------------------------------------------------------


def test_insert_writes_rows_with_tags_keys_and_properties_readable_back(
    broker: Broker, flink_jar: Path
) -> None:
    topic = create_topic(broker.namesrv, unique("tsink"), queues=2)
    t_env = table_env()
    with_clause = options(
        namesrv=broker.namesrv,
        topic=topic,
        group=unique("g"),
        format="json",
        scan_startup_mode="earliest",
        scan_bounded_mode="latest",
    )
    t_env.execute_sql(
        f"""CREATE TABLE out_t (
            id INT, name STRING,
            tags STRING METADATA,
            `keys` STRING METADATA,
            props MAP<STRING, STRING> METADATA FROM 'properties'
        ) WITH ({with_clause})"""
    )
    values = ", ".join(
        f"({i}, 'n{i}', '{'red' if i % 2 else 'blue'}', 'key{i}', "
        f"MAP['color', '{'red' if i % 2 else 'blue'}', 'n', '{i}'])"
        for i in range(10)
    )
    execute(t_env, f"INSERT INTO out_t VALUES {values}")

    messages = read_topic(broker.namesrv, topic)
    decoded = sorted((json.loads(m.body) for m in messages), key=lambda d: int(d["id"]))
    assert decoded == [{"id": i, "name": f"n{i}"} for i in range(10)]
    for m in messages:
        i = json.loads(m.body)["id"]
        color = "red" if i % 2 else "blue"
        assert (m.tags, m.keys, m.get_property("color"), m.get_property("n")) == (
            color,
            [f"key{i}"],
            color,
            str(i),
        )

    # Read back through the table, filtered by the broker on a written property.
    hint = "/*+ OPTIONS('sql-filter' = 'color = ''red''') */"
    red = collect(t_env, f"SELECT id FROM out_t {hint}")
    assert sorted(r[0] for r in red) == [1, 3, 5, 7, 9]


def test_exactly_once_insert_from_one_rocketmq_table_into_another(
    broker: Broker, flink_jar: Path
) -> None:
    source_topic = create_topic(broker.namesrv, unique("tin"), queues=2)
    sink_topic = create_topic(broker.namesrv, unique("tout"), queues=2)
    produce(broker.namesrv, source_topic, [f"m{i:02d}" for i in range(20)])
    t_env = table_env()
    source = options(
        namesrv=broker.namesrv,
        topic=source_topic,
        group=unique("g"),
        format="raw",
        scan_startup_mode="earliest",
        scan_bounded_mode="latest",
    )
    sink = options(
        namesrv=broker.namesrv,
        topic=sink_topic,
        group=unique("p"),
        format="raw",
        sink_delivery__guarantee="exactly-once",
        sink_tag="upper",
    )
    t_env.execute_sql(f"CREATE TABLE src (v STRING) WITH ({source})")
    t_env.execute_sql(f"CREATE TABLE snk (v STRING) WITH ({sink})")
    execute(t_env, "INSERT INTO snk SELECT UPPER(v) FROM src")
    messages = read_topic(broker.namesrv, sink_topic)
    assert bodies(messages) == [f"M{i:02d}" for i in range(20)]
    assert {m.tags for m in messages} == {"upper"}
    # Every message is a committed transaction (two-phase commit, not a plain send).
    kinds = {m.sys_flag & MessageSysFlag.TRANSACTION_TYPE_MASK for m in messages}
    assert kinds == {MessageSysFlag.TRANSACTION_COMMIT_TYPE}


# --- bad options ------------------------------------------------------------------------------


def planning_error(t_env: Any, ddl_options: str, sql: str = "SELECT * FROM t") -> str:
    """The text of the error planning ``sql`` raises over a table with these options."""
    t_env.execute_sql("DROP TEMPORARY TABLE IF EXISTS t")
    t_env.execute_sql(f"CREATE TEMPORARY TABLE t (v STRING) WITH ({ddl_options})")
    with pytest.raises(Exception) as failure:
        t_env.explain_sql(sql)
    return str(failure.value)


def test_bad_options_fail_planning_naming_the_option(flink_jar: Path) -> None:
    t_env = table_env()
    base = {"namesrv": "127.0.0.1:1", "topic": "t", "group": "g", "format": "raw"}

    def error(drop: str = "", sql: str = "SELECT * FROM t", **extra: str) -> str:
        values = {k: v for k, v in base.items() if k != drop} | extra
        return planning_error(t_env, options(**values), sql)

    for required in ("namesrv", "topic", "group"):
        text = error(drop=required)
        assert re.search(rf"Missing required options are:\s+{required}\s", text), text
    assert "Could not find required scan format 'format'" in error(drop="format")
    option = "RocketMQ table option 'scan.startup.timestamp-millis' is required when"
    assert option in error(scan_startup_mode="timestamp")
    option = "RocketMQ table option 'scan.startup.specific-offsets' is required when"
    assert option in error(scan_startup_mode="specific-offsets")
    text = error(scan_startup_mode="specific-offsets", scan_startup_specific__offsets="queue:x")
    assert "'scan.startup.specific-offsets' has 'x' in 'queue:x', not a number" in text
    text = error(scan_startup_mode="newest")
    assert "Could not parse value 'newest' for key 'scan.startup.mode'" in text
    assert "'sql-filter' cannot be combined with 'tag'" in error(tag="A", sql__filter="a > 1")
    text = error(topic="a;b", sql="INSERT INTO t VALUES ('x')")
    assert "'topic' must name exactly one topic for a sink" in text
    text = error(sink_delivery__guarantee="twice", sql="INSERT INTO t VALUES ('x')")
    assert "for key 'sink.delivery-guarantee'" in text
    text = error(namsrv="127.0.0.1:1")  # a typo
    assert re.search(r"Unsupported options:\s+namsrv\s", text), text


def test_unknown_topic_fails_the_job_with_the_cause(broker: Broker, flink_jar: Path) -> None:
    t_env = table_env(parallelism=1)
    missing = unique("nosuch")
    with_clause = options(
        namesrv=broker.namesrv, topic=missing, group="g", format="raw", scan_bounded_mode="latest"
    )
    t_env.execute_sql(f"CREATE TABLE src (v STRING) WITH ({with_clause})")
    with pytest.raises(Exception) as failure:
        collect(t_env, "SELECT v FROM src")
    assert f"topic '{missing}' does not exist" in str(failure.value)
