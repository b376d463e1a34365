"""``KafkaAdminClient`` basics on rmq, plus ``NewTopic`` / ``NewPartitions``.

- ``create_topics``: a topic of ``num_partitions`` partitions gets that many queues spread
  over the cluster's master brokers (in broker-name order, as evenly as possible), read and
  write queue counts equal; ``replication_factor`` has no per-topic meaning in RocketMQ
  (replication is per broker group: master + slaves) and is ignored.
- ``delete_topics``, ``list_topics``, ``describe_topics``, ``describe_cluster``.
- groups: ``list_groups`` / ``list_consumer_groups`` (the subscription groups and the groups
  with stored offsets, RocketMQ's built-in groups left out), ``list_group_offsets`` /
  ``list_consumer_group_offsets`` (each group's committed offsets by partition).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from rmq_core.errors import RocketMQError, TopicNotExistError
from rmq_integrations.kafka import config as cfg
from rmq_integrations.kafka import errors, names
from rmq_integrations.kafka.cluster import Cluster
from rmq_integrations.kafka.consumer import NO_GROUP
from rmq_integrations.kafka.structs import OffsetAndMetadata, TopicPartition
from rmq_integrations.kafka.translate import call

__all__ = ["KafkaAdminClient", "NewPartitions", "NewTopic"]

log = logging.getLogger(__name__)

DEFAULT_PARTITIONS = 8  # RocketMQ's default queue count for a created topic
TOPIC_WAIT = 10.0  # s for a created topic's partitions to show in its route
_BUILTIN_GROUPS = frozenset(
    {
        "TOOLS_CONSUMER", "FILTERSRV_CONSUMER", "SELF_TEST_C_GROUP", "CID_ONS-HTTP-PROXY",
        "CID_ONSAPI_PULL", "CID_ONSAPI_PERMISSION", "CID_ONSAPI_OWNER", "CID_RMQ_SYS_TRANS",
        NO_GROUP,
    }
)  # fmt: skip


class NewTopic:
    """A topic to create (kafka-python's signature)."""

    def __init__(
        self,
        name: str,
        num_partitions: int = -1,
        replication_factor: int = -1,
        replica_assignments: Mapping[int, list[int]] | None = None,
        topic_configs: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.num_partitions = num_partitions
        self.replication_factor = replication_factor
        self.replica_assignments = dict(replica_assignments or {})
        self.topic_configs = dict(topic_configs or {})

    def __repr__(self) -> str:
        return f"NewTopic(name={self.name!r}, num_partitions={self.num_partitions})"


class NewPartitions:
    def __init__(self, total_count: int, new_assignments: Any = None) -> None:
        self.total_count = total_count
        self.new_assignments = new_assignments


def _split(total: int, parts: int) -> list[int]:
    """``total`` queues over ``parts`` brokers: equal shares, the first ones get the rest."""
    used = min(total, parts)
    return [total // used + (1 if i < total % used else 0) for i in range(used)]


def _new_topics(new_topics: Any) -> list[NewTopic]:
    if isinstance(new_topics, Mapping):
        return [
            NewTopic(name, spec.get("num_partitions", -1), spec.get("replication_factor", -1))
            for name, spec in new_topics.items()
        ]
    out = []
    for item in new_topics:
        out.append(NewTopic(item) if isinstance(item, str) else item)
    return out


class KafkaAdminClient:
    """kafka-python's ``KafkaAdminClient(**configs)``: the basics, on rmq."""

    DEFAULT_CONFIG = cfg.ADMIN_DEFAULTS

    def __init__(self, **configs: Any) -> None:
        self._closed = True
        self.config = cfg.resolve("KafkaAdminClient", configs)
        timeout = max(min(cfg.positive_ms(self.config, "request_timeout_ms"), 30.0), 0.001)
        namesrv = cfg.bootstrap_addresses(self.config["bootstrap_servers"])
        self._cluster = Cluster(
            namesrv,
            timeout=timeout,
            metadata_max_age=cfg.positive_ms(self.config, "metadata_max_age_ms"),
        )
        self._timeout = timeout * 4 + 10.0
        call(self._cluster.start(), self._timeout, "bootstrap")
        try:
            call(self._cluster.admin.cluster_info(), self._timeout, "bootstrap")
        except errors.KafkaError as exc:
            call(self._cluster.close(), self._timeout, "close")
            raise errors.NoBrokersAvailable(
                f"no NameServer answered at {', '.join(namesrv)}: {exc}"
            ) from exc
        self._closed = False

    def __enter__(self) -> KafkaAdminClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            call(self._cluster.close(), self._timeout, "close")

    def _run(self, coro: Any, context: str, extra: float = 0.0) -> Any:
        if self._closed:
            coro.close()
            raise errors.IllegalStateError("KafkaAdminClient is closed")
        return call(coro, self._timeout + extra, context)

    # --- topics ---------------------------------------------------------------------------

    def create_topics(
        self,
        new_topics: Any,
        timeout_ms: float | None = None,
        validate_only: bool = False,
        raise_errors: bool = True,
        wait_for_metadata: bool = False,
    ) -> dict[str, Any]:
        """Create topics; TopicAlreadyExistsError for an existing one (with raise_errors)."""
        wanted = _new_topics(new_topics)
        wait = TOPIC_WAIT if timeout_ms is None else max(timeout_ms / 1000.0, 0.0)
        results = []
        for topic in wanted:
            count = (
                DEFAULT_PARTITIONS if topic.num_partitions in (-1, None) else topic.num_partitions
            )
            if not isinstance(count, int) or count <= 0:
                raise errors.InvalidPartitionsError(
                    f"topic {topic.name!r}: num_partitions must be a positive int, not {count!r}"
                )
            if topic.topic_configs:
                log.warning("topic %s: topic_configs %s are ignored on rmq", topic.name,
                            sorted(topic.topic_configs))  # fmt: skip
            try:
                self._run(self._create(topic.name, count, validate_only, wait), "create", wait)
                results.append({"name": topic.name, "error_code": 0, "error_message": None,
                                "num_partitions": count, "replication_factor": 1})  # fmt: skip
            except errors.BrokerResponseError as exc:
                if raise_errors:
                    raise
                results.append({"name": topic.name, "error_code": exc.errno,
                                "error_message": str(exc)})  # fmt: skip
        return {"topics": results}

    async def _create(self, topic: str, count: int, validate_only: bool, wait: float) -> None:
        rmq_topic = names.topic_to_rmq(topic)
        try:
            await self._cluster.route(rmq_topic, refresh=True)
        except TopicNotExistError:
            pass
        else:
            raise errors.TopicAlreadyExistsError(f"topic {topic!r} already exists")
        masters = (await self._cluster.admin.cluster_info()).master_addrs()
        if not masters:
            raise errors.BrokerNotAvailableError("no master broker to create the topic on")
        if validate_only:
            return
        for addr, queues in zip(masters, _split(count, len(masters)), strict=False):
            await self._cluster.admin.create_topic(
                rmq_topic, broker_addr=addr, read_queue_nums=queues, write_queue_nums=queues,
                wait=0,
            )  # fmt: skip
        deadline = time.monotonic() + wait
        while True:
            try:
                if len(await self._cluster.read_queues(topic, refresh=True)) >= count:
                    return
            except errors.UnknownTopicOrPartitionError:
                pass
            if time.monotonic() >= deadline:
                log.warning(
                    "topic %s: not all %d partitions visible after %.1f s", topic, count, wait
                )
                return
            await asyncio.sleep(0.05)

    def delete_topics(
        self, topics: Iterable[str], timeout_ms: float | None = None, raise_errors: bool = True
    ) -> dict[str, Any]:
        """Delete topics; UnknownTopicOrPartitionError for a missing one (with raise_errors)."""
        results = []
        for topic in topics:
            try:
                self._run(self._delete(topic), f"delete {topic}")
                results.append({"name": topic, "error_code": 0, "error_message": None})
            except errors.BrokerResponseError as exc:
                if raise_errors:
                    raise
                results.append({"name": topic, "error_code": exc.errno, "error_message": str(exc)})
        return {"topics": results}

    async def _delete(self, topic: str) -> None:
        rmq_topic = names.topic_to_rmq(topic)
        try:
            await self._cluster.admin.delete_topic(rmq_topic)
        except TopicNotExistError as exc:
            raise errors.UnknownTopicOrPartitionError(f"topic {topic!r} does not exist") from exc
        finally:
            self._cluster.forget(rmq_topic)

    def list_topics(self) -> list[str]:
        """Names of the cluster's topics (RocketMQ's system topics left out)."""
        return sorted(self._run(self._cluster.topics(), "list topics"))

    def describe_topics(self, topics: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Partition layout of ``topics`` (all when None); node ids are broker indexes."""
        wanted = sorted(self.list_topics()) if topics is None else list(topics)
        out = []
        for topic in wanted:
            try:
                out.append(self._run(self._cluster.describe(topic), f"describe {topic}"))
            except errors.UnknownTopicOrPartitionError:
                out.append({"error_code": 3, "name": topic, "is_internal": False, "partitions": []})
        return out

    def describe_cluster(self) -> dict[str, Any]:
        """Brokers (masters and slaves) with node ids in broker-name order."""
        info = self._run(self._cluster.admin.cluster_info(), "describe cluster")
        brokers = []
        for node_id, name in enumerate(sorted(info.brokers)):
            data = info.brokers[name]
            for broker_id, addr in sorted(data.broker_addrs.items()):
                host, _, port = addr.rpartition(":")
                entry = {"node_id": node_id, "host": host, "port": int(port), "rack": None}
                entry.update(broker_name=name, broker_id=broker_id)
                brokers.append(entry)
        return {
            "brokers": brokers,
            "cluster_id": ",".join(sorted(info.clusters)) or None,
            "controller_id": -1,
        }

    # --- groups ---------------------------------------------------------------------------

    async def _groups(self) -> set[str]:
        admin = self._cluster.admin
        found = set(await admin.list_subscription_groups())
        found.update(await admin.list_consumer_offsets())
        return {
            names.group_from_rmq(g)
            for g in found
            if g and g not in _BUILTIN_GROUPS and not g.startswith("CID_RMQ_SYS_")
        }

    def list_groups(
        self, broker_ids: Any = None, states_filter: Any = None, types_filter: Any = None
    ) -> list[dict[str, Any]]:
        """Consumer groups known to the brokers (kafka-python 3.x shape)."""
        groups = self._run(self._groups(), "list groups")
        return [{"group_id": g, "protocol_type": "consumer"} for g in sorted(groups)]

    def list_consumer_groups(
        self, broker_ids: Any = None, states_filter: Any = None
    ) -> list[tuple[str, str]]:
        """Consumer groups as ``(group_id, protocol_type)`` (kafka-python 2.x shape)."""
        return [(g["group_id"], g["protocol_type"]) for g in self.list_groups()]

    async def _group_offsets(
        self, group_id: str, partitions: Iterable[TopicPartition] | None
    ) -> dict[TopicPartition, OffsetAndMetadata]:
        group = names.group_to_rmq(group_id)
        progress = await self._cluster.admin.consumer_progress(group)
        out: dict[TopicPartition, OffsetAndMetadata] = {}
        for queue in progress.queues:
            if queue.consumer_offset < 0 or queue.mq.topic.startswith("%"):
                continue
            try:
                tp = await self._cluster.partition_of(queue.mq)
            except (errors.KafkaError, RocketMQError):
                continue
            out[tp] = OffsetAndMetadata(queue.consumer_offset, "", -1)
        if partitions is not None:
            wanted = set(partitions)
            out = {tp: om for tp, om in out.items() if tp in wanted}
        return out

    def list_group_offsets(self, group_specs: Any) -> dict[str, dict[TopicPartition, Any]]:
        """``{group_id: {TopicPartition: OffsetAndMetadata}}`` (kafka-python 3.x shape)."""
        if isinstance(group_specs, str):
            group_specs = {group_specs: None}
        elif not isinstance(group_specs, Mapping):
            group_specs = dict.fromkeys(group_specs)
        return {
            group: self._run(self._group_offsets(group, parts), f"offsets of group {group}")
            for group, parts in group_specs.items()
        }

    def list_consumer_group_offsets(
        self,
        group_id: str,
        group_coordinator_id: Any = None,
        partitions: Iterable[TopicPartition] | None = None,
    ) -> dict[TopicPartition, OffsetAndMetadata]:
        """``{TopicPartition: OffsetAndMetadata}`` of one group (kafka-python 2.x shape)."""
        result: dict[TopicPartition, OffsetAndMetadata] = self._run(
            self._group_offsets(group_id, partitions), f"offsets of group {group_id}"
        )
        return result
