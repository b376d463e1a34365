"""The broker's REGISTER_BROKER body goes through the shared codec and keeps its bytes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rmq_core.broker.config import BrokerConfig
from rmq_core.broker.managers import TopicConfig, TopicConfigManager
from rmq_core.broker.registration import build_register_body
from rmq_core.remoting import fastjson
from rmq_core.remoting.bodies import decode_register_broker_body


def context(permission: int) -> SimpleNamespace:
    config = BrokerConfig(broker_permission=permission)
    topics = TopicConfigManager(lambda: config)
    topics.update_topic_config(
        TopicConfig("Orders", 8, 4, 6, attributes={"message.type": "FIFO", "note": "größe"})
    )
    topics.update_topic_config(TopicConfig("Template", 2, 2, 7))
    return SimpleNamespace(topics=topics, config=config)


def previous_encoding(ctx: SimpleNamespace) -> bytes:
    """What the broker sent before the codec was shared: its wrapper with masked perms."""
    wrapper = ctx.topics.serialize_wrapper()
    for topic in wrapper["topicConfigTable"].values():
        topic["perm"] = topic["perm"] & (ctx.config.broker_permission | 0b1)
    return fastjson.dumps({"filterServerList": [], "topicConfigSerializeWrapper": wrapper})


@pytest.mark.parametrize("permission", [6, 4, 2])
def test_register_body_bytes_unchanged_and_readable_by_the_namesrv(permission: int) -> None:
    ctx = context(permission)
    data = build_register_body(ctx)  # type: ignore[arg-type]
    assert data == previous_encoding(ctx)
    body = decode_register_broker_body(data, compressed=False, version=401)
    assert body.data_version.to_json() == ctx.topics.data_version.to_json()
    assert set(body.topic_config_table) == {t.topic_name for t in ctx.topics}
    orders = body.topic_config_table["Orders"]
    assert (orders.read_queue_nums, orders.write_queue_nums) == (8, 4)
    assert orders.perm == 6 & (permission | 1)
    assert orders.attributes == {"message.type": "FIFO", "note": "größe"}
    assert body.topic_config_table["Template"].perm == 7 & (permission | 1)
