"""Names and permission bits are defined once and applied the same way by broker and client."""

from __future__ import annotations

import pytest

from rmq_core.broker import perm as broker_perm
from rmq_core.broker import topic_validator
from rmq_core.client import route as client_route
from rmq_core.client import validators as client_validators
from rmq_core.common import perm, validators
from rmq_core.errors import ClientError


def test_one_definition() -> None:
    assert broker_perm.is_writeable is perm.is_writeable
    assert client_route.PERM_WRITE == perm.PERM_WRITE == 2
    assert topic_validator.check_topic is validators.check_topic
    assert client_validators.NOT_SENDABLE_TOPICS is validators.NOT_ALLOWED_SEND_TOPICS
    assert perm.perm_to_string(perm.PERM_READ_WRITE | perm.PERM_INHERIT) == "RWX"


@pytest.mark.parametrize(
    "name", ["", "  ", "bad topic", "a/b", "tópico", "x\n", "T" * 128, "%RETRY%" + "g" * 249]
)
def test_client_rejects_what_the_broker_rejects(name: str) -> None:
    reason = validators.check_topic(name)
    assert reason is not None
    with pytest.raises(ClientError) as info:
        client_validators.check_topic(name)
    assert str(info.value).startswith(reason[:20])


@pytest.mark.parametrize("name", ["TopicTest", "%RETRY%group", "a|b%c_d-e", "T" * 127])
def test_legal_names(name: str) -> None:
    assert validators.check_topic(name) is None
    client_validators.check_topic(name)


def test_groups_and_not_sendable_topics() -> None:
    assert validators.check_group("g" * 255) is None
    assert validators.check_group("g" * 256) is not None
    with pytest.raises(ClientError, match="illegal characters"):
        client_validators.check_group("bad group")
    for topic in ("SCHEDULE_TOPIC_XXXX", "RMQ_SYS_TRANS_HALF_TOPIC", "rmq_sys_wheel_timer"):
        assert validators.is_not_allowed_send_topic(topic)
    assert not validators.is_not_allowed_send_topic("TBW102")
    assert validators.is_system_topic("rmq_sys_anything")
