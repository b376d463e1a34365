"""blinker signals for sends and consumption, shared by the Flask and Spring-style integrations.

Every signal is sent with a *sender* and keyword arguments. The sender is the Flask app when
the Flask extension does the work, otherwise the :class:`~rmq_integrations.spring.RocketMQTemplate`
or :class:`~rmq_integrations.spring.ListenerContainer` (or whatever ``signal_sender`` they were
given). Keyword arguments:

==================== ======================================================================
signal               keyword arguments
==================== ======================================================================
message_sent         ``message`` (:class:`~rmq_core.Message`), ``destination`` (``topic[:tag]``),
                     ``result`` (:class:`~rmq_core.SendResult`, None for one-way sends),
                     ``mode`` (``"sync"``, ``"async"``, ``"oneway"``, ``"orderly"``,
                     ``"batch"``, ``"transaction"``), ``duration`` (s); for a batch,
                     ``message`` is its first message
send_failed          ``message``, ``destination``, ``exception``, ``mode``, ``duration`` (s)
message_received     ``message`` (:class:`~rmq_core.MessageExt`), ``group``, ``topic``,
                     ``listener`` (the handler's qualified name)
message_consumed     ``message``, ``group``, ``topic``, ``listener``, ``duration`` (s)
consume_failed       ``message``, ``group``, ``topic``, ``listener``, ``exception``,
                     ``reconsume_times`` (deliveries before this one), ``duration`` (s)
listener_started     ``group``, ``topic``, ``listener``
listener_stopped     ``group``, ``topic``, ``listener``
==================== ======================================================================

Order: ``message_received`` always precedes ``message_consumed`` or ``consume_failed`` for the
same delivery; consumption signals are sent from the consumer's worker thread (inside the app
context under Flask), send signals from the sending thread (the client's loop thread for
``mode="async"``). A receiver that raises is logged and ignored: metrics and tracing hooks can
never fail a send or a consumption (use :func:`emit` for the same behaviour elsewhere).
"""

from __future__ import annotations

import logging
from typing import Any

from blinker import Namespace, Signal

__all__ = [
    "consume_failed",
    "emit",
    "listener_started",
    "listener_stopped",
    "message_consumed",
    "message_received",
    "message_sent",
    "rocketmq_signals",
    "send_failed",
]

log = logging.getLogger(__name__)

rocketmq_signals = Namespace()
"""The namespace every rmq signal lives in (names prefixed ``rocketmq-``)."""

message_sent = rocketmq_signals.signal("rocketmq-message-sent", doc="a send succeeded")
send_failed = rocketmq_signals.signal("rocketmq-send-failed", doc="a send raised")
message_received = rocketmq_signals.signal(
    "rocketmq-message-received", doc="a listener is about to handle a message"
)
message_consumed = rocketmq_signals.signal(
    "rocketmq-message-consumed", doc="a listener handled a message"
)
consume_failed = rocketmq_signals.signal(
    "rocketmq-consume-failed", doc="a listener (or the payload conversion) failed; retried"
)
listener_started = rocketmq_signals.signal(
    "rocketmq-listener-started", doc="a listener's consumer started"
)
listener_stopped = rocketmq_signals.signal(
    "rocketmq-listener-stopped", doc="a listener's consumer stopped"
)


def emit(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Send ``signal`` if anyone listens; a receiver's exception is logged, never raised."""
    if not signal.receivers or signal.is_muted:
        return
    for receiver in signal.receivers_for(sender):
        try:
            receiver(sender, **kwargs)
        except Exception:
            log.exception(
                "a receiver of signal %s raised; ignored", getattr(signal, "name", signal)
            )
