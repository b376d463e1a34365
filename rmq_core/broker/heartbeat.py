"""HEART_BEAT bodies as the broker reads them: :mod:`rmq_core.remoting.bodies.heartbeat`.

The wire model (``HeartbeatData``, ``ConsumerData``, ``SubscriptionData``, enum names and
ordinals, :class:`HeartbeatError`) is defined once, in the remoting layer, where clients
encode it too; broker modules keep importing it from here.
"""

from __future__ import annotations

from rmq_core.remoting.bodies.heartbeat import (
    CONSUME_FROM_WHERE,
    CONSUME_TYPES,
    EXPRESSION_TYPES,
    MESSAGE_MODELS,
    ConsumerData,
    HeartbeatData,
    HeartbeatError,
    SubscriptionData,
    decode_heartbeat,
)

__all__ = [
    "CONSUME_FROM_WHERE",
    "CONSUME_TYPES",
    "EXPRESSION_TYPES",
    "MESSAGE_MODELS",
    "ConsumerData",
    "HeartbeatData",
    "HeartbeatError",
    "SubscriptionData",
    "decode_heartbeat",
]
