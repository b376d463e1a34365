"""Flask extension without a broker: config checks, state per app, listener registration,
CLI wiring and signal dispatch."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask

from rmq_integrations import signals
from rmq_integrations.flask import RocketMQ, RocketMQConfigError, RocketMQState
from rmq_integrations.spring import ListenerDeclarationError, rocketmq_message_listener


class Opaque:
    pass


def make_app(name: str = "unit_app", **config: Any) -> Flask:
    app = Flask(name)
    app.config["ROCKETMQ_NAMESRV_ADDR"] = "127.0.0.1:9876"
    app.config.update(config)
    return app


def test_init_app_sets_defaults_state_and_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    mq = RocketMQ()
    app = make_app()
    mq.init_app(app)
    state = app.extensions["rocketmq"]
    assert isinstance(state, RocketMQState) and mq.state(app) is state
    assert app.config["ROCKETMQ_SEND_TIMEOUT"] == 3.0
    assert state.settings.producer_group == "unit_app-producer"
    assert state.instance_name.startswith("unit_app-")
    assert "rocketmq" in app.cli.commands
    with app.app_context():
        assert mq.state() is state


def test_constructor_with_app_and_several_apps_are_independent() -> None:
    app_a = make_app("app_a", ROCKETMQ_PRODUCER_GROUP="pg-a")
    app_b = make_app("app_b", ROCKETMQ_NAMESRV_ADDR="127.0.0.2:9876;127.0.0.3:9876")
    mq = RocketMQ(app_a)
    mq.init_app(app_b)
    a, b = mq.state(app_a), mq.state(app_b)
    assert a is not b and a.instance_name != b.instance_name
    assert a.settings.producer_group == "pg-a"
    assert b.settings.namesrv_addr == "127.0.0.2:9876;127.0.0.3:9876"
    other = RocketMQ()
    with pytest.raises(RuntimeError, match="not initialised"):
        other.state(app_a)


def test_template_producer_shares_the_consumers_client_instance() -> None:
    """One client instance per app: the template's producer uses the app's instance name
    and the instance settings of ROCKETMQ_CONSUMER_OPTIONS (producer options win)."""
    app = make_app(
        ROCKETMQ_CONSUMER_OPTIONS={"rebalance_interval": 0.5, "poll_name_server_interval": 2.0},
        ROCKETMQ_PRODUCER_OPTIONS={"poll_name_server_interval": 3.0},
    )
    mq = RocketMQ(app)
    state = mq.state(app)
    config = state.template.producer.config
    assert config.instance_name == state.instance_name
    assert config.rebalance_interval == 0.5
    assert config.poll_name_server_interval == 3.0


def test_missing_namesrv_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NAMESRV_ADDR", raising=False)
    app = Flask("no_namesrv")
    with pytest.raises(RocketMQConfigError, match="ROCKETMQ_NAMESRV_ADDR is not set"):
        RocketMQ(app)
    assert "rocketmq" not in app.extensions
    monkeypatch.setenv("NAMESRV_ADDR", "10.0.0.1:9876")
    RocketMQ(app)
    assert app.extensions["rocketmq"].settings.namesrv_addr == "10.0.0.1:9876"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"ROCKETMQ_NAMESRV_ADDR": "localhost"}, "bad address 'localhost'"),
        ({"ROCKETMQ_NAMESRV_ADDR": 9876}, "must be a string"),
        ({"ROCKETMQ_NAMESERVER": "x:1"}, "unknown configuration key"),
        ({"ROCKETMQ_SEND_TIMEOUT": 0}, "positive number"),
        ({"ROCKETMQ_SEND_TIMEOUT": "3"}, "positive number"),
        ({"ROCKETMQ_CONSUMER_OPTIONS": {"nope": 1}}, "unknown option"),
        ({"ROCKETMQ_CONSUMER_OPTIONS": ["x"]}, "must be a mapping"),
        ({"ROCKETMQ_PRODUCER_OPTIONS": {"producer_group": "x"}}, "ROCKETMQ_PRODUCER_GROUP"),
        ({"ROCKETMQ_CONSUMER_OPTIONS": {"namesrv_addr": "x:1"}}, "ROCKETMQ_NAMESRV_ADDR"),
    ],
)
def test_bad_config_values(config: dict[str, Any], message: str) -> None:
    with pytest.raises(RocketMQConfigError, match=message):
        RocketMQ(make_app(**config))


def test_listener_decorator_registers_on_every_app_and_checks_at_once() -> None:
    mq = RocketMQ()
    app = make_app("listeners_app")
    mq.init_app(app)

    @mq.listener("Topic", "group-1", tags="a || b", consume_thread_max=2)
    def handle(body: bytes) -> None: ...

    state = mq.state(app)
    (registered,) = state.container.listeners
    assert registered.spec.selector_expression == "a || b"
    assert registered.spec.consume_thread_max == 2

    @mq.listener("Topic2", "group-2")
    def later(text: str) -> None: ...

    assert [r.spec.consumer_group for r in state.container.listeners] == ["group-1", "group-2"]

    with pytest.raises(ListenerDeclarationError, match="already used"):

        @mq.listener("Topic3", "group-1")
        def same_group(body: bytes) -> None: ...

    with pytest.raises(ListenerDeclarationError, match="no message converter"):

        @mq.listener("Topic4", "group-4")
        def opaque(thing: Opaque) -> None: ...

    with pytest.raises(ListenerDeclarationError, match="not declared"):
        mq.register(lambda body: None)

    @rocketmq_message_listener(topic="Topic5", consumer_group="group-5")
    def spring_style(body: bytes) -> None: ...

    mq.register(spring_style)
    assert len(state.container.listeners) == 3
    with pytest.raises(ListenerDeclarationError, match="no listener is registered"):
        state.start_listeners(["unknown-group"])


def test_cli_consume_without_listeners_and_unknown_group() -> None:
    app = make_app("cli_app")
    RocketMQ(app)
    result = app.test_cli_runner().invoke(args=["rocketmq", "consume", "--duration", "0.1"])
    assert result.exit_code != 0 and "declares no listener" in result.output
    result = app.test_cli_runner().invoke(args=["rocketmq", "consume", "-g", "nope"])
    assert result.exit_code != 0 and "no listener is registered for group(s) nope" in result.output


def test_cli_send_rejects_bad_arguments() -> None:
    app = make_app("cli_send_app")
    RocketMQ(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["rocketmq", "send", "T", "{", "--json"])
    assert result.exit_code != 0 and "not JSON" in result.output
    result = runner.invoke(args=["rocketmq", "send", "T", "x", "-p", "novalue"])
    assert result.exit_code != 0 and "NAME=VALUE" in result.output
    result = runner.invoke(args=["rocketmq", "send", "T", "x", "--delay-level", "19"])
    assert result.exit_code != 0


def test_cli_without_extension_says_so() -> None:
    from rmq_integrations.flask import rocketmq_cli

    app = Flask("bare")
    app.cli.add_command(rocketmq_cli)
    result = app.test_cli_runner().invoke(args=["rocketmq", "topics", "--no-cluster"])
    assert result.exit_code != 0 and "not initialised" in result.output


def test_emit_isolates_failing_receivers(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[tuple[object, dict[str, Any]]] = []

    def broken(sender: object, **kwargs: Any) -> None:
        raise RuntimeError("metrics backend down")

    def recorder(sender: object, **kwargs: Any) -> None:
        seen.append((sender, kwargs))

    with (
        signals.message_sent.connected_to(broken),
        signals.message_sent.connected_to(recorder),
        caplog.at_level(logging.ERROR, "rmq_integrations.signals"),
    ):
        signals.emit(signals.message_sent, "sender", message="m", destination="d")
    assert seen == [("sender", {"message": "m", "destination": "d"})]
    assert "metrics backend down" in caplog.text
    with signals.message_sent.muted():
        signals.emit(signals.message_sent, "sender")  # no receivers called, no error
