"""Streaming job: topic -> transformation -> topic, exactly once, with Trigger.AvailableNow.

Needs the Spark extra (``pip install 'rmq[spark]'``, Java 17)::

    python examples/spark_streaming.py --namesrv 127.0.0.1:9876 --count 30

Sends ``--count`` messages to ``--topic``, then runs a streaming query that reads them in
micro-batches of at most a third of them (``maxMessagesPerTrigger``), upper-cases the bodies
and writes them to ``<topic>Upper`` with the exactly-once sink (``sinkId``). The query's
checkpoint is kept in ``--checkpoint`` (a fresh temporary folder by default): run the script
again with the same folder and only new messages are processed.
"""

from __future__ import annotations

import os
import sys
import tempfile

from _common import parse_args, run_id
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from rmq_spark import register

from rmq_core.admin.sync import AdminClient
from rmq_core.client import Message
from rmq_core.client.sync import Producer


def spark_session(app: str) -> tuple[SparkSession, bool]:
    """The running SparkSession (e.g. a notebook's), else a new local one; True when new."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers need this venv
    spark = SparkSession.builder.master("local[2]").appName(app).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark, True


def main() -> int:
    args = parse_args("Upper-case a topic into another with Spark.", topic="SparkExampleIn")
    run = run_id()
    out_topic = f"{args.topic}Upper"
    with AdminClient(args.namesrv) as admin:
        for topic in (args.topic, out_topic):
            admin.create_topic(topic, read_queue_nums=2, write_queue_nums=2)
    with Producer("SparkExampleProducer", args.namesrv) as producer:
        for i in range(args.count):
            msg = Message(args.topic, f"hello {i}".encode())
            msg.put_user_property("run", run)
            producer.send(msg)

    spark, owned = spark_session("rmq-spark-stream")
    checkpoint = tempfile.mkdtemp(prefix="rmq-spark-example-")
    try:
        register(spark)
        source = (
            spark.readStream.format("rocketmq")
            .option("namesrv", args.namesrv)
            .option("topic", args.topic)
            .option("startingOffsets", "earliest")
            .option("maxMessagesPerTrigger", str(max(args.count // 3, 1)))
            .load()
            .where(F.col("properties")["run"] == run)
        )
        upper = source.select(
            F.upper(F.col("value").cast("string")).alias("value"), F.col("key"), "properties"
        )
        query = (
            upper.writeStream.format("rocketmq")
            .option("namesrv", args.namesrv)
            .option("topic", out_topic)
            .option("sinkId", "SparkExampleUpper")
            .option("checkpointLocation", checkpoint)
            .trigger(availableNow=True)
            .start()
        )
        finished = query.awaitTermination(args.timeout)
        batches = [p["numInputRows"] for p in query.recentProgress if p["numInputRows"]]
        if not finished:
            query.stop()
            print(f"the query did not finish within {args.timeout} s")
            return 1
        print(f"micro-batches read {batches} messages")
        written = (
            spark.read.format("rocketmq")
            .option("namesrv", args.namesrv)
            .option("topic", out_topic)
            .load()
            .where(F.col("properties")["run"] == run)
            .collect()
        )
    finally:
        if owned:
            spark.stop()
    values = sorted(bytes(r.value).decode() for r in written)
    print(f"{len(values)} messages in {out_topic}, e.g. {values[:3]}")
    return 0 if values == sorted(f"HELLO {i}" for i in range(args.count)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
