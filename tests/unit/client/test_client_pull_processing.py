"""Client-side processing of pulled messages and pull headers."""

from __future__ import annotations

from rmq_core.client.consumer.common import post_process, pull_header
from rmq_core.client.heartbeat import SubscriptionData, build_heartbeat, retry_topic
from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.results import PullResult, PullStatus
from rmq_core.common.message import MessageExt
from rmq_core.filter.tags import tag_hash


def msg(topic: str, tag: str | None, **props: str) -> MessageExt:
    m = MessageExt(topic=topic, body=b"x", properties=dict(props))
    m.tags = tag
    return m


def test_exact_tag_match_removes_hash_collisions() -> None:
    assert tag_hash("Aa") == tag_hash("BB")  # the classic Java String.hashCode collision
    sub = SubscriptionData.build("T", "Aa")
    result = PullResult(PullStatus.FOUND, 3, 0, 3, [msg("T", "Aa"), msg("T", "BB"), msg("T", None)])
    kept = post_process(result, sub, "G")
    assert [m.tags for m in kept] == ["Aa"]
    assert kept[0].properties["MIN_OFFSET"] == "0" and kept[0].properties["MAX_OFFSET"] == "3"


def test_retry_messages_get_their_original_topic_back() -> None:
    sub = SubscriptionData.build(retry_topic("G"), "*")
    retried = msg("%RETRY%G", "TagA", RETRY_TOPIC="Orders")
    other = msg("%RETRY%Other", "TagA", RETRY_TOPIC="Orders")
    kept = post_process(PullResult(PullStatus.FOUND, 2, 0, 2, [retried, other]), sub, "G")
    assert [m.topic for m in kept] == ["Orders", "%RETRY%Other"]


def test_pull_header_flags_and_heartbeat_body() -> None:
    sub = SubscriptionData.build("T", "TagA || TagB")
    mq = MessageQueue("T", "b", 1)
    header = pull_header("G", mq, 10, 32, sub, commit_offset=7, suspend_ms=15000)
    assert header.sys_flag == 0x1 | 0x2 | 0x4
    assert (header.suspend_timeout_millis, header.subscription) == (15000, "TagA || TagB")
    lite = pull_header("G", mq, 10, 32, sub, commit_offset=-1, suspend_ms=0, lite=True)
    assert lite.sys_flag == 0x4 | 0x10 and lite.commit_offset == 0
    body = build_heartbeat("ip@1", ["PG"], [])
    assert b'"clientID":"ip@1"' in body and b'"groupName":"PG"' in body
    assert sub.to_json()["codeSet"] == sorted([tag_hash("TagA"), tag_hash("TagB")])
