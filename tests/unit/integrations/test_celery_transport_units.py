"""Pure parts of the rocketmq:// kombu transport: names, options, payload decoding, scheme."""

from __future__ import annotations

import json

import pytest

from rmq_core.client.validators import check_group, check_topic
from rmq_core.common.message import MessageExt
from rmq_integrations.celery import SCHEME, TRANSPORT_PATH, register
from rmq_integrations.celery.naming import group_for_topic, topic_for_queue
from rmq_integrations.celery.options import TransportConfigError, TransportOptions
from rmq_integrations.celery.server_state import kv_prefix
from rmq_integrations.celery.transport import _decode_payload


@pytest.mark.parametrize(
    "queue",
    ["celery", "celery@host.celery.pidbox", "a" * 300, "x:y/z", "0b1c-uuid-like", "é"],
)
def test_every_queue_name_maps_to_a_legal_topic_and_group(queue: str) -> None:
    topic = topic_for_queue(queue)
    check_topic(topic)
    check_group(group_for_topic(topic, "kombu-"))
    assert topic_for_queue(queue) == topic  # stable


def test_legal_names_are_kept_and_others_are_disambiguated() -> None:
    assert topic_for_queue("celery") == "celery"
    assert topic_for_queue("celery", "app_") == "app_celery"
    a, b = topic_for_queue("a.b"), topic_for_queue("a_b")
    assert a != b and a.startswith("a_b-") and b == "a_b"
    with pytest.raises(ValueError):
        topic_for_queue("")


def test_options_parse_convert_and_reject() -> None:
    options = TransportOptions.parse(
        {"invisible_time": "2.5", "renew_invisible": "false", "queue_nums": "2",
         "body_encoding": "base64", "polling_interval": None}
    )  # fmt: skip
    assert options.invisible_time == 2.5 and options.renew_invisible is False
    assert options.queue_nums == 2 and options.polling_interval is None
    with pytest.raises(TransportConfigError, match="unknown rocketmq transport option"):
        TransportOptions.parse({"visibility_timeout": 1})
    with pytest.raises(TransportConfigError, match="long_poll must be in"):
        TransportOptions.parse({"long_poll": 120})
    with pytest.raises(TransportConfigError, match="max_prefetch"):
        TransportOptions.parse({"max_prefetch": "lots"})
    assert isinstance(TransportConfigError("x"), ValueError)


def test_payload_decoding_accepts_only_kombu_messages() -> None:
    good = {"body": "e30=", "properties": {"delivery_tag": "x"}, "headers": {}}
    assert _decode_payload(MessageExt("q", json.dumps(good).encode())) == good
    for body in (b"\xff\xfe", b"not json", b"[1,2]", b'{"body": "x"}', b'{"properties": {}}'):
        assert _decode_payload(MessageExt("q", body)) is None


def test_kv_prefix_per_virtual_host_and_scheme_registration() -> None:
    assert kv_prefix("/") == kv_prefix(None) == kv_prefix("") == "kombu"
    assert kv_prefix("/app") == "kombu:app"
    from kombu.transport import TRANSPORT_ALIASES

    register("rocketmq-test")
    assert TRANSPORT_ALIASES["rocketmq-test"] == TRANSPORT_PATH
    assert TRANSPORT_ALIASES[SCHEME] == TRANSPORT_PATH
    del TRANSPORT_ALIASES["rocketmq-test"]
