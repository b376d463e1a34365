"""``flask rocketmq``: send a message, run the app's listeners as a worker, list topics.

- ``flask rocketmq send DESTINATION BODY [--key K]... [--property NAME=VALUE]... [--json]
  [--delay-level N] [--hash-key K]``: one synchronous send; prints status, message id, queue
  and offset. ``--json`` parses BODY as JSON (so the JSON converter sends it).
- ``flask rocketmq consume [--group G]... [--duration S]``: start the app's listeners (or
  those of the given groups) and consume until SIGTERM/SIGINT (or ``--duration`` seconds),
  then stop cleanly (in-flight handlers finish, consumed offsets are committed) and exit 0.
- ``flask rocketmq topics [--no-cluster]``: the topics the app listens to (group, selector,
  handler) and the topics the NameServer knows.

Every command runs inside an app context (``AppGroup``).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from rmq_core import RocketMQError

__all__ = ["rocketmq_cli"]

EXTENSION_KEY = "rocketmq"
WAIT_STEP = 0.2  # s between checks of the stop flag while consuming

rocketmq_cli = AppGroup("rocketmq", help="Send and consume RocketMQ messages with rmq.")


def _state() -> Any:
    state = current_app.extensions.get(EXTENSION_KEY)
    if state is None:
        raise click.ClickException(
            f"RocketMQ is not initialised on app {current_app.name!r} (call mq.init_app(app))"
        )
    return state


def _properties(pairs: tuple[str, ...]) -> dict[str, str]:
    props: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--property")
        props[name] = value
    return props


@rocketmq_cli.command("send")
@click.argument("destination")
@click.argument("body")
@click.option("--key", "-k", "keys", multiple=True, help="message key (repeatable)")
@click.option("--property", "-p", "props", multiple=True, help="user property NAME=VALUE")
@click.option("--json", "as_json", is_flag=True, help="parse BODY as JSON")
@click.option("--delay-level", type=click.IntRange(0, 18), default=0, help="delay level 1..18")
@click.option("--hash-key", default=None, help="send orderly: queue chosen by this key")
def send_command(
    destination: str,
    body: str,
    keys: tuple[str, ...],
    props: tuple[str, ...],
    as_json: bool,
    delay_level: int,
    hash_key: str | None,
) -> None:
    """Send BODY to DESTINATION (topic or topic:tag)."""
    headers: dict[str, Any] = _properties(props)
    if keys:
        headers["KEYS"] = list(keys)
    if delay_level:
        headers["DELAY"] = delay_level
    payload: Any = body
    if as_json:
        try:
            payload = json.loads(body)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="BODY") from exc
    template = _state().template
    try:
        if hash_key is not None:
            result = template.sync_send_orderly(destination, payload, hash_key, headers=headers)
        else:
            result = template.sync_send(destination, payload, headers=headers)
    except (RocketMQError, ValueError) as exc:
        raise click.ClickException(f"send to {destination} failed: {exc}") from exc
    mq = result.message_queue
    click.echo(
        f"{result.status.value} msg_id={result.msg_id} broker={mq.broker_name} "
        f"queue={mq.queue_id} offset={result.queue_offset}"
    )


@rocketmq_cli.command("consume")
@click.option("--group", "-g", "groups", multiple=True, help="only this group (repeatable)")
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="stop after this many seconds (default: run until SIGTERM/SIGINT)",
)
def consume_command(groups: tuple[str, ...], duration: float | None) -> None:
    """Run the app's listeners in this process until SIGTERM/SIGINT."""
    state = _state()
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            listeners = state.start_listeners(groups or None)
        except RocketMQError as exc:
            raise click.ClickException(f"cannot start the listeners: {exc}") from exc
        if not listeners:
            raise click.ClickException(f"app {current_app.name!r} declares no listener")
        for listener in listeners:
            spec = listener.spec
            click.echo(f"listening: {spec.topic} group={spec.consumer_group} -> {listener.name}")
        click.echo(f"consuming with {len(listeners)} listener(s); stop with SIGTERM or Ctrl-C")
        sys.stdout.flush()
        deadline = None if duration is None else time.monotonic() + duration
        while not stop.wait(WAIT_STEP):
            if deadline is not None and time.monotonic() >= deadline:
                break
        why = signal.Signals(received[0]).name if received else "duration elapsed"
        click.echo(f"stopping ({why})")
    finally:
        state.shutdown()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    click.echo("stopped")


@rocketmq_cli.command("topics")
@click.option("--cluster/--no-cluster", default=True, help="also list the NameServer's topics")
def topics_command(cluster: bool) -> None:
    """List the topics the app listens to and those the NameServer knows."""
    state = _state()
    listeners = state.container.listeners
    click.echo("listened topics:" if listeners else "listened topics: none")
    for listener in listeners:
        spec = listener.spec
        selector = f"{spec.selector_type.value}({spec.selector_expression})"
        click.echo(
            f"  {spec.topic}  group={spec.consumer_group}  {selector}  "
            f"{spec.consume_mode.value}  {listener.name}"
        )
    if not cluster:
        return
    from rmq_core.admin.sync import AdminClient

    try:
        with AdminClient(state.settings.namesrv_addr) as admin:
            names = sorted(admin.list_topics())
    except RocketMQError as exc:
        raise click.ClickException(f"cannot list the cluster's topics: {exc}") from exc
    click.echo(f"cluster topics ({len(names)}):")
    for name in names:
        click.echo(f"  {name}")
