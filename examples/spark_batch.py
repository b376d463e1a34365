"""Batch job: produce orders, total them per tag with Spark, write the totals to a topic.

Needs the Spark extra (``pip install 'rmq[spark]'``, Java 17)::

    python examples/spark_batch.py --namesrv 127.0.0.1:9876 --count 20

1. sends ``--count`` JSON orders to ``--topic`` (tag ``Even``/``Odd``);
2. ``spark.read.format("rocketmq")`` loads the topic, keeps this run's messages and sums the
   amounts per tag;
3. ``df.write.format("rocketmq")`` publishes one message per tag to ``<topic>Totals`` (all or
   nothing: the write is one transaction);
4. reads the totals back and checks them.
"""

from __future__ import annotations

import json
import os
import sys

from _common import parse_args, run_id
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from rmq_spark import register

from rmq_core.admin.sync import AdminClient
from rmq_core.client import Message
from rmq_core.client.sync import Producer


def produce_orders(namesrv: str, topic: str, count: int, run: str) -> dict[str, float]:
    """Send the orders; returns the expected total per tag."""
    totals: dict[str, float] = {}
    with Producer("SparkExampleProducer", namesrv) as producer:
        for i in range(count):
            tag = "Even" if i % 2 == 0 else "Odd"
            amount = i * 1.5
            msg = Message(topic, json.dumps({"order": i, "amount": amount}).encode())
            msg.tags = tag
            msg.keys = f"order-{i}"
            msg.put_user_property("run", run)
            producer.send(msg)
            totals[tag] = totals.get(tag, 0.0) + amount
    return totals


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
    args = parse_args("Total orders per tag with a Spark batch job.", topic="SparkExampleOrders")
    run = run_id()
    totals_topic = f"{args.topic}Totals"
    with AdminClient(args.namesrv) as admin:
        for topic in (args.topic, totals_topic):
            admin.create_topic(topic, read_queue_nums=2, write_queue_nums=2)
    expected = produce_orders(args.namesrv, args.topic, args.count, run)

    spark, owned = spark_session("rmq-spark-batch")
    try:
        register(spark)
        orders = (
            spark.read.format("rocketmq")
            .option("namesrv", args.namesrv)
            .option("topic", args.topic)
            .option("requestTimeoutMs", str(int(args.timeout * 1000)))
            .load()
            .where(F.col("properties")["run"] == run)
        )
        amount = F.get_json_object(F.col("value").cast("string"), "$.amount").cast("double")
        per_tag = orders.groupBy("tags").agg(F.sum(amount).alias("total"))
        per_tag.select(
            F.to_json(F.struct("tags", "total")).alias("value"),
            F.col("tags"),
            F.create_map(F.lit("run"), F.lit(run)).alias("properties"),
        ).write.format("rocketmq").option("namesrv", args.namesrv).option(
            "topic", totals_topic
        ).mode("append").save()

        written = (
            spark.read.format("rocketmq")
            .option("namesrv", args.namesrv)
            .option("topic", totals_topic)
            .load()
            .where(F.col("properties")["run"] == run)
            .collect()
        )
    finally:
        if owned:
            spark.stop()
    got = {}
    for row in written:
        record = json.loads(bytes(row.value))
        got[record["tags"]] = record["total"]
        print(f"{record['tags']}: {record['total']}")
    print(f"wrote {len(got)} totals to {totals_topic}")
    return 0 if got == expected else 1


if __name__ == "__main__":
    raise SystemExit(main())
