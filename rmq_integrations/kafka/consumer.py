"""``KafkaConsumer``: kafka-python's consumer API over rmq's async ``LitePullConsumer``.

How the Kafka model maps (docs/kafka.md has the whole table):

- ``subscribe(topics | pattern)`` with a ``group_id`` runs the lite pull consumer in subscribe
  mode: RocketMQ's rebalance shares the topics' queues among the group's members. The shim
  reads the owned queues at every poll and tells a rebalance listener what changed.
- ``assign(partitions)``, and ``subscribe`` with ``group_id=None`` (which, as in kafka-python,
  means "every partition of the topics, no group"), run it in assign mode. Without a group
  nothing is committed: offsets live in a throw-away local store.
- The shim keeps what it fetched in per-partition buffers and hands records out in offset order;
  ``position`` is the offset after the last record handed out. ``commit()`` stores positions as
  the group's offsets on the brokers (RocketMQ's consumer offsets).
- A new partition starts at the group's committed offset, else per ``auto_offset_reset``:
  ``earliest`` = the queue's first offset, ``latest`` = its end, ``none`` =
  NoOffsetForPartitionError until the application seeks.

A KafkaConsumer is meant for one thread, like kafka-python's. Its RocketMQ client runs on the
rmq client's background loop; every remote step is one blocking hop to that loop.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
import shutil
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, TypeVar

from rmq_core.client import ConsumeFromWhere, LitePullConsumer, MessageModel, MessageQueue
from rmq_core.client.sync import background_loop
from rmq_core.common.message import MessageExt
from rmq_core.errors import RocketMQError
from rmq_integrations.kafka import config as cfg
from rmq_integrations.kafka import errors, names
from rmq_integrations.kafka.cluster import Cluster
from rmq_integrations.kafka.fetcher import FetchBuffer
from rmq_integrations.kafka.future import Future
from rmq_integrations.kafka.listener import is_listener
from rmq_integrations.kafka.serializer import as_deserializer
from rmq_integrations.kafka.structs import (
    ConsumerGroupMetadata,
    ConsumerRecord,
    MemberState,
    OffsetAndMetadata,
    OffsetAndTimestamp,
    TopicPartition,
)
from rmq_integrations.kafka.translate import call, to_kafka

__all__ = ["NO_GROUP", "KafkaConsumer"]

log = logging.getLogger(__name__)

T = TypeVar("T")

NO_GROUP = "kafka-shim-no-group"  # RocketMQ group of consumers without group_id
VERSION = "3.0.12"
EARLIEST_STAMP = "19710101000000"  # CONSUME_FROM_TIMESTAMP far in the past: the first offset
LATEST_STAMP = "99991231235959"  # ... far in the future: the end of the queue
FETCH_SLICE = 0.2  # s: a long poll waits in slices so rebalances are noticed meanwhile
MAX_PULL_BATCH = 32  # messages per pull request (RocketMQ's broker-side cap)
HOP_MARGIN = 10.0  # s added to a hop's own wait before the shim gives up on it
_CLIENT_SEQ = itertools.count(1)


def _check_tp(tp: Any) -> TopicPartition:
    if not isinstance(tp, TopicPartition) and not (
        isinstance(tp, tuple) and len(tp) == 2 and type(tp).__name__ == "TopicPartition"
    ):
        raise TypeError("partition must be a TopicPartition namedtuple")
    return TopicPartition(tp[0], tp[1])


class KafkaConsumer:
    """kafka-python's ``KafkaConsumer(*topics, **configs)`` on rmq (see the module docstring)."""

    DEFAULT_CONFIG = cfg.CONSUMER_DEFAULTS

    def __init__(self, *topics: str, **configs: Any) -> None:
        self._closed = True
        self.config = cfg.resolve("KafkaConsumer", configs)
        conf = self.config
        reset = {"smallest": "earliest", "largest": "latest"}.get(
            conf["auto_offset_reset"], conf["auto_offset_reset"]
        )
        if reset not in ("earliest", "latest", "none"):
            raise errors.KafkaConfigurationError(
                f"auto_offset_reset must be 'earliest', 'latest' or 'none', not {reset!r}"
            )
        self._reset: str = reset
        if conf["group_instance_id"] is not None and conf["group_id"] is None:
            raise errors.KafkaConfigurationError("group_instance_id requires group_id")
        self._group: str | None = (
            None if conf["group_id"] is None else names.group_to_rmq(conf["group_id"])
        )
        max_poll = conf["max_poll_records"]
        if isinstance(max_poll, bool) or not isinstance(max_poll, int) or max_poll <= 0:
            raise errors.KafkaConfigurationError("max_poll_records must be a positive int")
        if conf["client_id"] is None:
            conf["client_id"] = f"kafka-python-{VERSION}"
        self._key_deserializer = as_deserializer(conf["key_deserializer"], "key_deserializer")
        self._value_deserializer = as_deserializer(conf["value_deserializer"], "value_deserializer")
        self._auto_commit = bool(conf["enable_auto_commit"]) and self._group is not None
        self._auto_commit_interval = cfg.positive_ms(conf, "auto_commit_interval_ms")
        self._api_timeout = max(min(cfg.positive_ms(conf, "request_timeout_ms"), 30.0), 0.001)
        self._consumer_timeout_s = float(conf["consumer_timeout_ms"]) / 1000.0
        namesrv = cfg.bootstrap_addresses(conf["bootstrap_servers"])
        self._namesrv = namesrv
        self._cluster = Cluster(
            namesrv,
            timeout=self._api_timeout,
            metadata_max_age=cfg.positive_ms(conf, "metadata_max_age_ms"),
        )
        # subscription state (kafka-python's SubscriptionState)
        self._topics: set[str] | None = None
        self._pattern: re.Pattern[str] | None = None
        self._listener: Any = None
        self._user_assignment: set[TopicPartition] | None = None
        self._last_topic_refresh = 0.0
        # the RocketMQ consumer and what it was set up with
        self._lite: LitePullConsumer | None = None
        self._lite_targets: frozenset[Any] = frozenset()
        self._offset_dir: str | None = None
        self._seq = next(_CLIENT_SEQ)
        # fetch state
        self._assigned: set[TopicPartition] = set()
        self._positions: dict[TopicPartition, int] = {}
        self._fetched = FetchBuffer(self._key_deserializer, self._value_deserializer)
        self._paused: set[TopicPartition] = set()
        self._needs_reset: set[TopicPartition] = set()
        self._out_of_range: dict[TopicPartition, int] = {}
        self._tp_of: dict[MessageQueue, TopicPartition] = {}
        self._last_commit = time.monotonic()
        self._commit_callbacks: deque[tuple[Callable[..., Any], Any, Any]] = deque()
        self._consumer_timeout = float("inf")
        self._metrics = {"records-consumed-total": 0, "fetch-total": 0, "commit-total": 0}
        self._hop(self._cluster.start(), "bootstrap")
        try:
            self._hop(self._cluster.admin.cluster_info(), "bootstrap")
        except errors.KafkaError as exc:
            self._hop(self._cluster.close(), "close")
            raise errors.NoBrokersAvailable(
                f"no NameServer answered at {', '.join(namesrv)}: {exc}"
            ) from exc
        self._closed = False
        if topics:
            self.subscribe(topics=list(topics))

    def __repr__(self) -> str:
        return f"<KafkaConsumer client_id={self.config['client_id']} group_id={self._group_id()}>"

    def _group_id(self) -> str | None:
        return self.config["group_id"]  # type: ignore[no-any-return]

    # --- plumbing -------------------------------------------------------------------------

    def _hop(self, coro: Coroutine[Any, Any, T], context: str, wait: float = 0.0) -> T:
        """Run ``coro`` on the background loop; rmq errors become Kafka errors."""
        return call(coro, wait + self._api_timeout * 4 + HOP_MARGIN, context)

    def _check_open(self) -> None:
        if self._closed:
            raise errors.IllegalStateError("KafkaConsumer is closed")

    def _require_group(self) -> str:
        if self._group is None:
            raise errors.IllegalStateError("Requires group_id")
        return self._group

    def __enter__(self) -> KafkaConsumer:
        return self

    def __exit__(self, exc_type: object, exc_val: object, exc_tb: object) -> None:
        self.close(autocommit=exc_type is None)

    # --- subscription ---------------------------------------------------------------------

    def subscribe(
        self, topics: Iterable[str] = (), pattern: str | None = None, listener: Any = None
    ) -> None:
        """Subscribe to ``topics`` or to the topics matching ``pattern`` (replaces any
        previous subscription); ``listener`` is told about rebalances."""
        self._check_open()
        topics = list(topics) if not isinstance(topics, str) else topics
        if not topics and not pattern:
            raise ValueError("Must provide topics or pattern")
        if topics and pattern:
            raise errors.IllegalStateError(
                "You must choose only one way to configure your consumer: (1) subscribe to "
                "specific topics by name, (2) subscribe to topics matching a regex pattern, "
                "(3) assign itself specific topic-partitions."
            )
        if self._user_assignment is not None:
            raise errors.IllegalStateError(
                "Subscription to topics, partitions and pattern are mutually exclusive"
            )
        if isinstance(topics, str):
            raise TypeError("Topics must be a list (or non-str sequence)")
        if listener is not None and not is_listener(listener):
            raise TypeError("listener must be a ConsumerRebalanceListener")
        for topic in topics:
            names.topic_to_rmq(topic)
        self._listener = listener
        if pattern is not None:
            self._pattern = re.compile(pattern)
            self._topics = set()
            self._refresh_pattern(force=True)
        else:
            self._pattern = None
            self._topics = set(topics)
        self._reconfigure()

    def subscription(self) -> set[str] | None:
        """The subscribed topics (those the pattern matched so far), or None."""
        return None if self._topics is None else set(self._topics)

    def unsubscribe(self) -> None:
        """Leave the group (committing with auto-commit) and forget every partition."""
        self._check_open()
        if self._auto_commit:
            self._commit_quietly()
        self._revoke_all()
        self._topics = None
        self._pattern = None
        self._listener = None
        self._user_assignment = None
        self._stop_lite()

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """Consume exactly ``partitions`` (no group rebalance); replaces any assignment."""
        self._check_open()
        wanted = {_check_tp(tp) for tp in partitions}
        if not wanted:
            self.unsubscribe()
            return
        if self._topics is not None:
            raise errors.IllegalStateError(
                "Subscription to topics, partitions and pattern are mutually exclusive"
            )
        for tp in wanted:  # unknown topics and partitions fail here, with their names
            self._hop(self._cluster.queue_of(tp), f"assign {tp}")
        if self._auto_commit and self._user_assignment is not None:
            self._commit_quietly()
        self._user_assignment = wanted
        self._reconfigure()

    def assignment(self) -> set[TopicPartition]:
        """The partitions this consumer owns now."""
        return set(self._assigned)

    def _refresh_pattern(self, *, force: bool = False) -> bool:
        """Re-match the pattern against the cluster's topics; True when the set changed."""
        if self._pattern is None:
            return False
        now = time.monotonic()
        if not force and now - self._last_topic_refresh < self._cluster.metadata_max_age:
            return False
        self._last_topic_refresh = now
        listed = self._hop(
            self._cluster.topics(exclude_internal=self.config["exclude_internal_topics"]),
            "list topics",
        )
        matched = {t for t in listed if self._pattern.match(t)}
        if matched == self._topics:
            return False
        self._topics = matched
        return True

    def _targets(self) -> frozenset[Any]:
        """What the RocketMQ consumer must be set up with: topic names (group subscribe) or
        partitions (assign mode and subscribe without a group)."""
        if self._user_assignment is not None:
            return frozenset(self._user_assignment)
        if self._topics is None:
            return frozenset()
        if self._group is not None:
            return frozenset(self._topics)
        every: set[TopicPartition] = set()
        for topic in sorted(self._topics):
            try:
                queues = self._hop(self._cluster.read_queues(topic), f"partitions of {topic}")
            except errors.UnknownTopicOrPartitionError:
                log.info("topic %s does not exist (yet); no partitions of it to consume", topic)
                continue
            every.update(TopicPartition(topic, i) for i in range(len(queues)))
        return frozenset(every)

    def _group_subscribe_mode(self) -> bool:
        return self._user_assignment is None and self._group is not None

    def _reconfigure(self) -> None:
        """(Re)start the RocketMQ consumer when its targets changed."""
        targets = self._targets()
        if targets == self._lite_targets and (self._lite is not None or not targets):
            if self._user_assignment is not None:
                self._apply_assignment(set(self._user_assignment))
            return
        kept_positions = {
            tp: pos for tp, pos in self._positions.items() if not self._group_subscribe_mode()
        }
        if self._auto_commit and self._lite is not None:
            self._commit_quietly()
        self._stop_lite()
        self._lite_targets = targets
        if targets:
            self._lite = self._hop(self._start_lite(targets), "start consumer")
        if not self._group_subscribe_mode():
            self._apply_assignment(set(targets))
            for tp, pos in kept_positions.items():
                if tp in self._assigned:
                    self._seek_remote(tp, pos)
            for tp in self._paused & self._assigned:
                self._hop(self._pause_remote([tp], True), "pause")

    def _stop_lite(self) -> None:
        lite, self._lite = self._lite, None
        self._lite_targets = frozenset()
        self._fetched.clear()
        self._tp_of.clear()
        if lite is not None:
            try:
                self._hop(lite.shutdown(), "stop consumer")
            except errors.KafkaError as exc:
                log.warning("stopping the RocketMQ consumer failed: %s", exc)

    def _lite_options(self) -> dict[str, Any]:
        conf = self.config
        instance = conf["group_instance_id"] or f"{uuid.uuid4().hex[:12]}-{self._seq}"
        options: dict[str, Any] = {
            "instance_name": f"kafka-{instance}",
            "auto_commit": False,
            "pull_batch_size": min(conf["max_poll_records"], MAX_PULL_BATCH),
            "consume_from_where": ConsumeFromWhere.CONSUME_FROM_TIMESTAMP,
            "consume_timestamp": EARLIEST_STAMP if self._reset == "earliest" else LATEST_STAMP,
            "mq_client_api_timeout": self._api_timeout,
            "broker_suspend_max_time": max(cfg.positive_ms(conf, "fetch_max_wait_ms"), 0.05),
            "pull_time_delay_when_exception": max(cfg.positive_ms(conf, "retry_backoff_ms"), 0.01),
            "heartbeat_broker_interval": max(cfg.positive_ms(conf, "heartbeat_interval_ms"), 1.0),
        }
        if self._group is None:
            if self._offset_dir is None:
                self._offset_dir = tempfile.mkdtemp(prefix="kafka-shim-offsets-")
            options["message_model"] = MessageModel.BROADCASTING
            options["offset_store_dir"] = self._offset_dir
        return options

    async def _start_lite(self, targets: frozenset[Any]) -> LitePullConsumer:
        lite = LitePullConsumer(
            self._group or NO_GROUP, list(self._namesrv), **self._lite_options()
        )
        if self._group_subscribe_mode():
            for topic in sorted(targets):
                lite.subscribe(names.topic_to_rmq(topic), "*")
        else:
            queues = [await self._cluster.queue_of(tp) for tp in sorted(targets)]
            for tp, mq in zip(sorted(targets), queues, strict=True):
                self._tp_of[mq] = tp
            lite.assign(queues)
        await lite.start()
        return lite

    # --- assignment changes ---------------------------------------------------------------

    def _apply_assignment(self, new: set[TopicPartition]) -> None:
        """Adopt ``new`` as the assignment: forget revoked partitions, check new ones, and
        tell the listener (revoked first, then added)."""
        old = self._assigned
        if new == old:
            return
        revoked, added = old - new, new - old
        self._assigned = set(new)
        for tp in revoked:
            self._positions.pop(tp, None)
            self._paused.discard(tp)
            self._needs_reset.discard(tp)
            self._out_of_range.pop(tp, None)
            self._fetched.forget(tp)
        if added and self._reset == "none":
            for tp in added:
                if self._group is None or self._committed_offset(tp) is None:
                    self._needs_reset.add(tp)
        self._call_listener("on_partitions_revoked", revoked)
        self._call_listener("on_partitions_assigned", added)

    def _call_listener(self, method: str, partitions: set[TopicPartition]) -> None:
        if not partitions or self._listener is None or self._user_assignment is not None:
            return
        try:
            getattr(self._listener, method)(set(partitions))
        except Exception as exc:
            log.exception("rebalance listener %s failed in %s", self._listener, method)
            raise errors.KafkaError("User rebalance callback throws an error") from exc

    def _revoke_all(self) -> None:
        if self._assigned:
            self._call_listener("on_partitions_revoked", set(self._assigned))
        self._assigned = set()
        self._positions.clear()
        self._paused.clear()
        self._needs_reset.clear()
        self._out_of_range.clear()

    # --- fetching -------------------------------------------------------------------------

    async def _pull(
        self, lite: LitePullConsumer, wait: float, want: int
    ) -> tuple[list[TopicPartition] | None, list[tuple[TopicPartition, list[MessageExt]]]]:
        """One hop: wait up to ``wait`` s for messages, take what else is ready (up to
        ``want`` messages), and read the owned queues (None in assign mode)."""
        batches: list[tuple[TopicPartition, list[MessageExt]]] = []
        count = 0
        msgs = await lite.poll(wait)
        while msgs:
            tp = await self._partition_of_message(lite, msgs[0])
            if tp is not None:
                batches.append((tp, msgs))
            count += len(msgs)
            if count >= want:
                break
            msgs = await lite.poll(0)
        owned = None
        if self._group_subscribe_mode():
            owned = []
            for mq in lite.assignment():
                tp = await self._partition_of(mq)
                if tp is not None:
                    owned.append(tp)
        return owned, batches

    async def _partition_of_message(
        self, lite: LitePullConsumer, msg: MessageExt
    ) -> TopicPartition | None:
        """The partition ``msg`` came from: the owned queue of its topic and queue id, told
        apart by the storing broker's address when several brokers have that queue id."""
        owned = [
            m for m in lite.assignment() if m.topic == msg.topic and m.queue_id == msg.queue_id
        ]
        if len(owned) > 1:
            route = await self._cluster.route(msg.topic)
            hosts = {
                b.broker_name
                for b in route.broker_datas
                if msg.store_host in b.broker_addrs.values()
            }
            owned = [m for m in owned if m.broker_name in hosts]
        if len(owned) != 1:
            log.warning("cannot tell which queue message %s of %s came from", msg.msg_id, msg.topic)
            return None
        return await self._partition_of(owned[0])

    async def _partition_of(self, mq: MessageQueue) -> TopicPartition | None:
        """The partition of ``mq``: as assigned (assign mode), else from the current route."""
        tp = self._tp_of.get(mq)
        if tp is not None:
            return tp
        try:
            return await self._cluster.partition_of(mq)
        except (errors.KafkaError, RocketMQError) as exc:
            log.warning("queue %s has no partition number: %s", mq, exc)
            return None

    def _fill(self, wait: float, want: int) -> None:
        """Fetch into the buffers (waiting up to ``wait`` s) and follow the assignment."""
        self._run_commit_callbacks()
        self._maybe_auto_commit()
        if self._refresh_pattern() or (
            self._group is None and self._topics is not None and self._topics_due()
        ):
            self._reconfigure()
        lite = self._lite
        if lite is None:
            time.sleep(wait)
            return
        owned, batches = self._hop(self._pull(lite, wait, want), "poll", wait)
        self._metrics["fetch-total"] += 1
        if owned is not None and self._lite is lite:
            self._apply_assignment(set(owned))
        for tp, msgs in batches:
            self._store(tp, msgs)

    def _topics_due(self) -> bool:
        """Without a group, new partitions of subscribed topics are looked for periodically."""
        now = time.monotonic()
        if now - self._last_topic_refresh < self._cluster.metadata_max_age:
            return False
        self._last_topic_refresh = now
        return True

    def _store(self, tp: TopicPartition, msgs: list[MessageExt]) -> None:
        if tp not in self._needs_reset and tp not in self._out_of_range:
            self._fetched.store(tp, msgs, self._positions.get(tp))

    def _raise_pending(self) -> None:
        if self._out_of_range:
            ranges = dict(self._out_of_range)
            raise errors.OffsetOutOfRangeError(
                "offsets out of range with no configured reset policy (auto_offset_reset="
                f"'none'): {ranges}; seek to an offset inside the log"
            )
        if self._needs_reset:
            missing = sorted(self._needs_reset)
            raise errors.NoOffsetForPartitionError(
                f"no committed offset for {missing} and auto_offset_reset='none'; "
                "seek before polling"
            )

    def _ready(self) -> list[TopicPartition]:
        """Partitions with buffered records that may be handed out now."""
        return self._fetched.ready(self._paused | self._needs_reset)

    def _take(self, max_records: int) -> dict[TopicPartition, list[ConsumerRecord]]:
        """Up to ``max_records`` buffered records, converted, positions advanced."""
        taken: dict[TopicPartition, list[ConsumerRecord]] = {}
        left = max_records
        for tp in self._ready():
            out = self._fetched.take(tp, left)
            if out:
                taken[tp] = out
                self._advance(tp, out[-1].offset + 1, len(out))
                left -= len(out)
            if left <= 0:
                break
        return taken

    def _advance(self, tp: TopicPartition, position: int, count: int) -> None:
        if tp in self._assigned:
            self._positions[tp] = position
        self._metrics["records-consumed-total"] += count

    def poll(
        self, timeout_ms: float = 0, max_records: int | None = None, update_offsets: bool = True
    ) -> dict[TopicPartition, list[ConsumerRecord]]:
        """Records fetched since the last poll, by partition; waits up to ``timeout_ms``."""
        if timeout_ms < 0:
            raise ValueError("Timeout must not be negative")
        if max_records is None:
            max_records = self.config["max_poll_records"]
        if not isinstance(max_records, int) or isinstance(max_records, bool):
            raise TypeError("max_records must be an integer")
        if max_records <= 0:
            raise ValueError("max_records must be positive")
        self._check_open()
        deadline = time.monotonic() + timeout_ms / 1000.0
        while True:
            buffered = self._fetched.count(self._ready())
            remaining = max(deadline - time.monotonic(), 0.0)
            wait = 0.0 if buffered else min(remaining, FETCH_SLICE)
            self._fill(wait, max(max_records - buffered, 1))
            self._raise_pending()
            taken = self._take(max_records)
            if taken or time.monotonic() >= deadline or self._closed:
                return taken

    # --- iteration ------------------------------------------------------------------------

    def __iter__(self) -> KafkaConsumer:
        return self

    def __next__(self) -> ConsumerRecord:
        if self._closed:
            raise StopIteration("KafkaConsumer closed")
        if self._consumer_timeout_s >= 0:
            self._consumer_timeout = time.monotonic() + self._consumer_timeout_s
        while True:
            ready = self._ready()
            if ready:
                self._maybe_auto_commit()
                (record,) = self._fetched.take(ready[0], 1)
                self._advance(ready[0], record.offset + 1, 1)
                return record
            remaining = self._consumer_timeout - time.monotonic()
            if remaining <= 0:
                raise StopIteration()
            self._fill(min(remaining, FETCH_SLICE), self.config["max_poll_records"])
            self._raise_pending()

    # --- positions ------------------------------------------------------------------------

    def _check_assigned(self, tp: TopicPartition, error: type[Exception]) -> None:
        if tp not in self._assigned:
            if error is ValueError:
                raise ValueError(f"Unassigned partition: {tp}")
            raise errors.IllegalStateError(f"Partition is not assigned: {tp}")

    def _seek_remote(self, tp: TopicPartition, offset: int | str) -> int:
        """Point the RocketMQ consumer at ``offset`` of ``tp`` (``"earliest"``/``"latest"``
        resolve to the queue's bounds); returns the offset or -1 when it is outside the log
        and the policy is 'none'."""
        lite = self._lite
        if lite is None:
            raise errors.IllegalStateError(f"{tp} is not being consumed")

        async def go() -> int:
            mq = await self._cluster.queue_of(tp)
            low = await self._cluster.min_offset(mq)
            high = await self._cluster.max_offset(mq)
            target = offset
            if isinstance(target, int) and not low <= target <= high:
                log.info("offset %d of %s is outside [%d, %d]", target, tp, low, high)
                if self._reset == "none":
                    return -1
                target = self._reset
            resolved = low if target == "earliest" else high if target == "latest" else target
            assert isinstance(resolved, int)
            await lite.seek(mq, resolved)
            return resolved

        return self._hop(go(), f"seek {tp}")

    def seek(self, partition: TopicPartition, offset: int) -> None:
        """Continue ``partition`` at ``offset`` on the next poll. An offset outside the log is
        reset per auto_offset_reset then (or, with 'none', poll raises OffsetOutOfRangeError)."""
        tp = _check_tp(partition)
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise ValueError("Offset must be int >= 0")
        self._check_open()
        self._check_assigned(tp, ValueError)
        self._fetched.drop(tp)
        self._needs_reset.discard(tp)
        self._out_of_range.pop(tp, None)
        resolved = self._seek_remote(tp, offset)
        if resolved < 0:
            self._out_of_range[tp] = offset
            self._positions[tp] = offset
        else:
            self._positions[tp] = resolved

    def _seek_bound(self, partitions: tuple[TopicPartition, ...], where: str) -> None:
        tps = [_check_tp(p) for p in partitions]
        self._check_open()
        if not tps:
            tps = sorted(self._assigned)
            if not tps:
                raise ValueError("No partitions are currently assigned")
        for tp in tps:
            self._check_assigned(tp, ValueError)
        for tp in tps:
            self._fetched.drop(tp)
            self._needs_reset.discard(tp)
            self._out_of_range.pop(tp, None)
            self._positions[tp] = self._seek_remote(tp, where)

    def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        """Continue the partitions (all assigned ones by default) at their first offset."""
        self._seek_bound(partitions, "earliest")

    def seek_to_end(self, *partitions: TopicPartition) -> None:
        """Continue the partitions (all assigned ones by default) at their end."""
        self._seek_bound(partitions, "latest")

    def position(self, partition: TopicPartition, timeout_ms: float | None = None) -> int:
        """The offset of the next record ``partition`` will return."""
        tp = _check_tp(partition)
        self._check_open()
        self._check_assigned(tp, errors.IllegalStateError)
        known = self._positions.get(tp)
        if known is not None:
            return known
        if tp in self._needs_reset:
            raise errors.NoOffsetForPartitionError(
                f"no committed offset for {tp} and auto_offset_reset='none'"
            )
        head = self._fetched.head_offset(tp)
        if head is not None:
            self._positions[tp] = head
            return head
        committed = self._committed_offset(tp) if self._group is not None else None
        target: int | str = committed if committed is not None else self._reset
        resolved = self._seek_remote(tp, target)
        self._positions[tp] = resolved
        return resolved

    def highwater(self, partition: TopicPartition) -> int | None:
        """The partition's end offset as of the last fetch (None before any)."""
        tp = _check_tp(partition)
        self._check_assigned(tp, errors.IllegalStateError)
        return self._fetched.highwater(tp)

    # --- pause / resume -------------------------------------------------------------------

    async def _pause_remote(self, tps: list[TopicPartition], pause: bool) -> None:
        lite = self._lite
        if lite is None:
            return
        queues = [await self._cluster.queue_of(tp) for tp in tps]
        owned = set(lite.assignment())
        mine = [mq for mq in queues if mq in owned]
        if pause:
            lite.pause(mine)
        else:
            lite.resume(mine)

    def pause(self, *partitions: TopicPartition) -> None:
        """Stop returning records of ``partitions`` (and fetching them) until resumed."""
        tps = [_check_tp(p) for p in partitions]
        self._check_open()
        for tp in tps:
            self._check_assigned(tp, errors.IllegalStateError)
        self._paused.update(tps)
        self._hop(self._pause_remote(tps, True), "pause")

    def resume(self, *partitions: TopicPartition) -> None:
        tps = [_check_tp(p) for p in partitions]
        self._check_open()
        self._paused.difference_update(tps)
        self._hop(self._pause_remote([tp for tp in tps if tp in self._assigned], False), "resume")

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    # --- offsets of the group -------------------------------------------------------------

    def _committed_offset(self, tp: TopicPartition) -> int | None:
        group = self._require_group()

        async def go() -> int | None:
            return await self._cluster.committed(group, await self._cluster.queue_of(tp))

        return self._hop(go(), f"committed offset of {tp}")

    def committed(
        self, partition: TopicPartition, metadata: bool = False, timeout_ms: float | None = None
    ) -> int | OffsetAndMetadata | None:
        """The group's committed offset of ``partition``; None if it never committed one."""
        self._require_group()
        tp = _check_tp(partition)
        self._check_open()
        offset = self._committed_offset(tp)
        if offset is None:
            return None
        return OffsetAndMetadata(offset, "", -1) if metadata else offset

    def _commit_offsets(self, offsets: Mapping[Any, Any] | None) -> dict[TopicPartition, int]:
        """Validate ``offsets`` (default: the positions) as ``{TopicPartition: int}``."""
        if offsets is None:
            return {tp: pos for tp, pos in self._positions.items() if tp in self._assigned}
        if not isinstance(offsets, Mapping):
            raise TypeError("offsets must be a dict of {TopicPartition: OffsetAndMetadata}")
        plain: dict[TopicPartition, int] = {}
        for raw_tp, value in offsets.items():
            tp = _check_tp(raw_tp)
            offset = getattr(value, "offset", value)  # OffsetAndMetadata or a plain int
            if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
                raise ValueError(f"offset to commit for {tp} must be an int >= 0, not {offset!r}")
            if self._group_subscribe_mode() and tp not in self._assigned:
                raise errors.CommitFailedError(
                    f"cannot commit {tp}: the group rebalanced and this consumer no longer "
                    f"owns it (owned now: {sorted(self._assigned)})"
                )
            plain[tp] = offset
        return plain

    async def _commit_remote(self, group: str, offsets: dict[TopicPartition, int]) -> None:
        lite = self._lite
        by_queue = {await self._cluster.queue_of(tp): off for tp, off in offsets.items()}
        if lite is not None:
            await lite.commit(by_queue)
        else:
            for mq, off in by_queue.items():
                await self._cluster.store_offset(group, mq, off)

    def commit(
        self, offsets: Mapping[Any, Any] | None = None, timeout_ms: float | None = None
    ) -> None:
        """Store ``offsets`` (default: the current positions) as the group's offsets."""
        group = self._require_group()
        self._check_open()
        plain = self._commit_offsets(offsets)
        self._run_commit_callbacks()
        if plain:
            self._hop(self._commit_remote(group, plain), "commit")
        self._metrics["commit-total"] += 1
        self._last_commit = time.monotonic()

    def commit_async(
        self, offsets: Mapping[Any, Any] | None = None, callback: Callable[..., Any] | None = None
    ) -> Future:
        """Commit without waiting; ``callback(offsets, exception_or_None)`` runs in a later
        poll/commit/close of this consumer. Returns a Future."""
        group = self._require_group()
        self._check_open()
        plain = self._commit_offsets(offsets)
        callback = callback or self.config["default_offset_commit_callback"]
        shown = {tp: OffsetAndMetadata(off, "", -1) for tp, off in plain.items()}
        future = Future()

        def done(outcome: Any) -> None:
            error = outcome.exception()
            if error is None:
                future.success(None)
            else:
                future.failure(to_kafka(error, "commit"))
            if callback is not None:
                self._commit_callbacks.append((callback, shown, future.exception))

        background_loop().submit(self._commit_remote(group, plain)).add_done_callback(done)
        self._last_commit = time.monotonic()
        return future

    def _run_commit_callbacks(self) -> None:
        while self._commit_callbacks:
            callback, offsets, outcome = self._commit_callbacks.popleft()
            try:
                callback(offsets, outcome)
            except Exception:
                log.exception("offset commit callback %r failed", callback)

    def _maybe_auto_commit(self) -> None:
        if self._auto_commit and time.monotonic() - self._last_commit >= self._auto_commit_interval:
            self._commit_quietly()

    def _commit_quietly(self) -> None:
        self._last_commit = time.monotonic()
        offsets = self._commit_offsets(None)
        if not offsets or self._group is None:
            return
        try:
            self._hop(self._commit_remote(self._group, offsets), "auto-commit")
        except errors.KafkaError as exc:
            log.warning("auto-commit of %s failed: %s", offsets, exc)

    # --- offsets of the log ---------------------------------------------------------------

    def _offsets_by(self, partitions: Iterable[Any], what: str) -> dict[TopicPartition, int]:
        tps = [_check_tp(p) for p in partitions]
        self._check_open()

        async def go() -> dict[TopicPartition, int]:
            out = {}
            for tp in tps:
                mq = await self._cluster.queue_of(tp)
                if what == "beginning":
                    out[tp] = await self._cluster.min_offset(mq)
                else:
                    out[tp] = await self._cluster.max_offset(mq)
            return out

        return self._hop(go(), f"{what} offsets")

    def beginning_offsets(
        self, partitions: Iterable[TopicPartition], timeout_ms: float | None = None
    ) -> dict[TopicPartition, int]:
        """The first offset still in the log of each partition."""
        return self._offsets_by(partitions, "beginning")

    def end_offsets(
        self, partitions: Iterable[TopicPartition], timeout_ms: float | None = None
    ) -> dict[TopicPartition, int]:
        """The offset the next record of each partition will get."""
        return self._offsets_by(partitions, "end")

    def offsets_for_times(
        self, timestamps: Mapping[TopicPartition, int], timeout_ms: float | None = None
    ) -> dict[TopicPartition, OffsetAndTimestamp | None]:
        """For each partition, the first record stored at or after the timestamp (epoch ms;
        by the broker's store time), or None when there is none."""
        self._check_open()
        wanted: dict[TopicPartition, int] = {}
        for raw_tp, stamp in timestamps.items():
            tp = _check_tp(raw_tp)
            if isinstance(stamp, bool) or not isinstance(stamp, int) or stamp < 0:
                raise ValueError(
                    f"The target time for partition {tp} is {stamp}. The target time cannot "
                    "be negative."
                )
            wanted[tp] = stamp
        group = self._group or NO_GROUP

        async def go() -> dict[TopicPartition, OffsetAndTimestamp | None]:
            out: dict[TopicPartition, OffsetAndTimestamp | None] = {}
            for tp, stamp in wanted.items():
                mq = await self._cluster.queue_of(tp)
                found = await self._cluster.offset_for_time(group, mq, stamp)
                out[tp] = None if found is None else OffsetAndTimestamp(*found, -1)
            return out

        return self._hop(go(), "offsets for times")

    # --- metadata -------------------------------------------------------------------------

    def topics(self) -> set[str]:
        """Every topic of the cluster (RocketMQ's system topics excluded by default)."""
        self._check_open()
        return self._hop(
            self._cluster.topics(exclude_internal=self.config["exclude_internal_topics"]),
            "list topics",
        )

    def partitions_for_topic(self, topic: str) -> set[int]:
        """Partition numbers of ``topic``; an empty set when the topic does not exist."""
        self._check_open()
        try:
            queues = self._hop(self._cluster.read_queues(topic, refresh=True), "partitions")
        except errors.UnknownTopicOrPartitionError:
            return set()
        return set(range(len(queues)))

    def group_metadata(self) -> ConsumerGroupMetadata:
        if self._group is None:
            return ConsumerGroupMetadata(group_id=None)
        state = MemberState.STABLE if self._lite is not None else MemberState.UNJOINED
        return ConsumerGroupMetadata(
            self.config["group_id"], -1, self.config["client_id"],
            self.config["group_instance_id"], state,
        )  # fmt: skip

    def bootstrap_connected(self) -> bool:
        return not self._closed and self._cluster.connected

    def bootstrap(self, timeout_ms: float | None = None, refresh: bool = False) -> None:
        """Check that a NameServer answers (the shim connects at construction)."""
        self._check_open()
        self._hop(self._cluster.admin.cluster_info(), "bootstrap")

    def metrics(self, raw: bool = False) -> dict[str, Any] | None:
        """Counters of this consumer (``{'consumer-metrics': {...}}``); None when disabled."""
        if not self.config["metrics_enabled"]:
            return None
        return {"consumer-metrics": {k: float(v) for k, v in self._metrics.items()}}

    # --- close ----------------------------------------------------------------------------

    def close(self, autocommit: bool = True, timeout_ms: float | None = None) -> None:
        """Commit (with auto-commit), tell the listener, leave the group, stop the clients."""
        if self._closed:
            return
        try:
            if autocommit and self._auto_commit:
                self._commit_quietly()
            self._run_commit_callbacks()
            with contextlib.suppress(errors.KafkaError):
                if self._group_subscribe_mode():
                    self._revoke_all()
        finally:
            self._closed = True
            self._stop_lite()
            with contextlib.suppress(errors.KafkaError):
                self._hop(self._cluster.close(), "close")
            if self._offset_dir is not None:
                shutil.rmtree(self._offset_dir, ignore_errors=True)
            for deserializer in (self._key_deserializer, self._value_deserializer):
                close = getattr(deserializer, "close", None)
                if callable(close):
                    close()
