"""@rocketmq_message_listener, handler binding and container registration (no broker)."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from typing import Any

import pytest

from rmq_core import ConsumeFromWhere, MessageExt, MessageModel
from rmq_core.client import MessageSelector
from rmq_integrations.spring import (
    ConsumeMode,
    ListenerContainer,
    ListenerDeclarationError,
    SelectorType,
    listener_specs,
    rocketmq_message_listener,
)
from rmq_integrations.spring.converters import default_converter
from rmq_integrations.spring.invoker import bind_handler


@dataclass
class Event:
    name: str


class Opaque:
    pass


def test_decorator_marks_function_with_a_validated_spec() -> None:
    @rocketmq_message_listener(
        topic="Events",
        consumer_group="events-group",
        selector_type="SQL92",
        selector_expression="a > 5 AND TAGS = 'x'",
        consume_mode="ORDERLY",
        message_model="BROADCASTING",
        consume_thread_max=4,
        max_reconsume_times=3,
        consume_timeout=60.0,
        suspend_current_queue_time=0.5,
        consume_from_where="CONSUME_FROM_FIRST_OFFSET",
        pull_batch_size=8,
    )
    def handle(event: Event) -> None:
        pass

    (spec,) = listener_specs(handle)
    assert spec.key == ("events-group", "Events")
    assert spec.selector_type is SelectorType.SQL92
    assert spec.consume_mode is ConsumeMode.ORDERLY and spec.orderly
    assert spec.message_selector() == MessageSelector.by_sql("a > 5 AND TAGS = 'x'")
    assert spec.consumer_options() == {
        "message_model": MessageModel.BROADCASTING,
        "consume_thread_max": 4,
        "max_reconsume_times": 3,
        "consume_timeout": 60.0,
        "suspend_current_queue_time": 0.5,
        "consume_from_where": ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
        "pull_batch_size": 8,
    }
    handle(Event("still callable"))


def test_defaults_are_tag_star_concurrently_clustering() -> None:
    @rocketmq_message_listener(topic="T", consumer_group="g")
    def handle(body: bytes) -> None:
        pass

    (spec,) = listener_specs(handle)
    assert spec.message_selector() == MessageSelector.by_tag("*")
    assert not spec.orderly
    assert spec.consumer_options() == {"message_model": MessageModel.CLUSTERING}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"topic": "", "consumer_group": "g"}, "topic must be a non-blank"),
        ({"topic": "bad topic", "consumer_group": "g"}, "not a legal name"),
        ({"topic": "T", "consumer_group": "g.h"}, "consumer_group 'g.h' is not a legal"),
        ({"topic": "T", "consumer_group": "g", "selector_expression": " || "}, "bad TAG"),
        (
            {"topic": "T", "consumer_group": "g", "selector_type": "SQL92",
             "selector_expression": "a >"},
            "bad SQL92 selector",
        ),
        ({"topic": "T", "consumer_group": "g", "selector_type": "XPATH"}, "XPATH"),
        ({"topic": "T", "consumer_group": "g", "consume_mode": "FAST"}, "FAST"),
        ({"topic": "T", "consumer_group": "g", "consume_thread_max": 0}, "at least 1"),
        ({"topic": "T", "consumer_group": "g", "max_reconsume_times": -2}, "max_reconsume"),
        ({"topic": "T", "consumer_group": "g", "no_such_option": 1}, "unknown consumer option"),
        ({"topic": "T", "consumer_group": "g", "options": 1}, "unknown consumer option"),
    ],
)  # fmt: skip
def test_bad_declarations_fail_at_decoration(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ListenerDeclarationError, match=message):
        rocketmq_message_listener(**kwargs)


def test_async_handlers_and_classes_without_on_message_are_refused() -> None:
    decorate = rocketmq_message_listener(topic="T", consumer_group="g")
    with pytest.raises(ListenerDeclarationError, match="async"):

        @decorate
        async def handle(body: bytes) -> None:
            pass

    with pytest.raises(ListenerDeclarationError, match="no on_message"):

        @decorate
        class NoHandler:
            pass


def test_same_group_and_topic_twice_on_one_target_is_refused() -> None:
    @rocketmq_message_listener(topic="T", consumer_group="g2")
    @rocketmq_message_listener(topic="T", consumer_group="g1")
    def handle(body: bytes) -> None:
        pass

    assert [s.consumer_group for s in listener_specs(handle)] == ["g1", "g2"]
    with pytest.raises(ListenerDeclarationError, match="declared twice"):
        rocketmq_message_listener(topic="T", consumer_group="g1")(handle)


CONVERTER = default_converter()


def test_bind_handler_resolves_type_hints() -> None:
    def typed(event: Event) -> None: ...
    def raw(msg: MessageExt) -> None: ...
    def untyped(msg):  # type: ignore[no-untyped-def]
        ...
    def with_default(body: str, extra: int = 0) -> None: ...

    assert bind_handler(typed, CONVERTER).target is Event
    assert bind_handler(raw, CONVERTER).raw
    assert bind_handler(untyped, CONVERTER).raw
    assert bind_handler(with_default, CONVERTER).target is str


def test_bind_handler_refuses_bad_shapes_and_types() -> None:
    def opaque(thing: Opaque) -> None: ...
    def two(a: bytes, b: bytes) -> None: ...
    def none() -> None: ...

    with pytest.raises(ListenerDeclarationError, match=r"no message converter supports .* Opaque"):
        bind_handler(opaque, CONVERTER)
    with pytest.raises(ListenerDeclarationError, match="exactly one"):
        bind_handler(two, CONVERTER)
    with pytest.raises(ListenerDeclarationError, match="exactly one"):
        bind_handler(none, CONVERTER)


def test_class_listener_is_instantiated_once_and_bound() -> None:
    created: list[object] = []

    @rocketmq_message_listener(topic="A", consumer_group="class-a")
    @rocketmq_message_listener(topic="B", consumer_group="class-b")
    class Handler:
        def __init__(self) -> None:
            created.append(self)

        def on_message(self, event: Event) -> None: ...

    container = ListenerContainer("127.0.0.1:9876")
    registered = container.register(Handler)
    assert len(registered) == 2 and len(created) == 1
    assert all(r.handler.target is Event for r in registered)
    assert registered[0].name.endswith("Handler.on_message")
    assert not container.running and not any(r.running for r in registered)


def test_class_that_cannot_be_built_is_a_declaration_error() -> None:
    @rocketmq_message_listener(topic="A", consumer_group="needs-args")
    class NeedsArgs:
        def __init__(self, db: object) -> None:
            self.db = db

        def on_message(self, body: bytes) -> None: ...

    container = ListenerContainer("127.0.0.1:9876")
    with pytest.raises(ListenerDeclarationError, match="register an instance"):
        container.register(NeedsArgs)
    assert container.register(NeedsArgs(db=None))[0].spec.consumer_group == "needs-args"


def test_container_refuses_duplicates_and_unsupported_types() -> None:
    container = ListenerContainer("127.0.0.1:9876")

    @rocketmq_message_listener(topic="T", consumer_group="dup")
    def first(body: bytes) -> None: ...

    @rocketmq_message_listener(topic="T", consumer_group="dup")
    def again(body: bytes) -> None: ...

    @rocketmq_message_listener(topic="Other", consumer_group="dup")
    def other_topic(body: bytes) -> None: ...

    @rocketmq_message_listener(topic="T", consumer_group="opaque")
    def opaque(thing: Opaque) -> None: ...

    def undeclared(body: bytes) -> None: ...

    container.register(first)
    with pytest.raises(ListenerDeclarationError, match="declared twice"):
        container.register(again)
    with pytest.raises(ListenerDeclarationError, match="its own consumer_group"):
        container.register(other_topic)
    with pytest.raises(ListenerDeclarationError, match="no message converter"):
        container.register(opaque)
    with pytest.raises(ListenerDeclarationError, match="not declared"):
        container.register(undeclared)
    assert [r.name.rsplit(".", 1)[-1] for r in container.listeners] == ["first"]


def test_scan_registers_the_listeners_defined_in_a_module() -> None:
    module = types.ModuleType("scan_me")
    code = (
        "from rmq_integrations.spring import rocketmq_message_listener\n"
        "@rocketmq_message_listener(topic='S', consumer_group='scan-1')\n"
        "def one(body: bytes) -> None: ...\n"
        "@rocketmq_message_listener(topic='S', consumer_group='scan-2')\n"
        "class Two:\n"
        "    def on_message(self, text: str) -> None: ...\n"
        "def plain() -> None: ...\n"
    )
    sys.modules[module.__name__] = module
    try:
        exec(compile(code, "scan_me.py", "exec"), module.__dict__)
        container = ListenerContainer("127.0.0.1:9876")
        found = container.scan(module)
    finally:
        del sys.modules[module.__name__]
    assert [r.spec.consumer_group for r in found] == ["scan-1", "scan-2"]
    assert [r.handler.target for r in found] == [bytes, str]


def test_start_with_an_unknown_group_is_refused() -> None:
    container = ListenerContainer("127.0.0.1:9876")
    with pytest.raises(ListenerDeclarationError, match="no listener is registered"):
        container.start(["missing"])
    assert not container.running


def test_transaction_states_map_to_the_client() -> None:
    from rmq_core.client import LocalTransactionState
    from rmq_integrations.spring import RocketMQLocalTransactionState as State
    from rmq_integrations.spring.transaction import to_client_state

    assert to_client_state(State.COMMIT) is LocalTransactionState.COMMIT_MESSAGE
    assert to_client_state(State.ROLLBACK) is LocalTransactionState.ROLLBACK_MESSAGE
    assert to_client_state(State.UNKNOWN) is LocalTransactionState.UNKNOW
    assert to_client_state("COMMIT") is LocalTransactionState.COMMIT_MESSAGE
    assert to_client_state("ROLLBACK_MESSAGE") is LocalTransactionState.ROLLBACK_MESSAGE
    assert to_client_state(LocalTransactionState.COMMIT_MESSAGE) is (
        LocalTransactionState.COMMIT_MESSAGE
    )
    for unclear in (None, "maybe", 1, True):
        assert to_client_state(unclear) is LocalTransactionState.UNKNOW


def test_transaction_listener_declarations() -> None:
    from rmq_integrations.spring import rocketmq_transaction_listener
    from rmq_integrations.spring.transaction import TransactionListenerAdapter

    with pytest.raises(ListenerDeclarationError, match="lacks check_local_transaction"):

        @rocketmq_transaction_listener
        class HalfDone:
            def execute_local_transaction(self, msg: Any, arg: Any) -> str:
                return "COMMIT"

    with pytest.raises(ListenerDeclarationError, match="decorates a class"):
        rocketmq_transaction_listener()(lambda: None)

    @rocketmq_transaction_listener()
    class Ok:
        def execute_local_transaction(self, msg: Any, arg: Any) -> str:
            return "COMMIT" if arg else "ROLLBACK"

        def check_local_transaction(self, msg: Any) -> None:
            return None

    entered: list[str] = []

    class Context:
        def __enter__(self) -> None:
            entered.append("in")

        def __exit__(self, *exc: object) -> None:
            entered.append("out")

    adapter = TransactionListenerAdapter(Ok, Context)
    assert adapter.execute_local_transaction(None, True).value == "COMMIT_MESSAGE"  # type: ignore[arg-type]
    assert adapter.check_local_transaction(None).value == "UNKNOW"  # type: ignore[arg-type]
    assert entered == ["in", "out", "in", "out"]
    with pytest.raises(ListenerDeclarationError, match="lacks"):
        TransactionListenerAdapter(object(), Context)
