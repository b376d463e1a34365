"""Celery/kombu on rmq: the ``rocketmq://`` transport with at-least-once delivery.

Register the URL scheme before creating the Celery app (kombu has no entry point for
transports), in the module the worker imports with ``-A``::

    import rmq_integrations.celery          # registers rocketmq:// on import
    from celery import Celery

    app = Celery("proj", broker="rocketmq://127.0.0.1:9876", backend="rpc://")

Importing the package registers the scheme; :func:`register` does it again explicitly (it is
idempotent). Instead of the scheme, Celery's ``broker_transport =
"rmq_integrations.celery.transport:Transport"`` works too. See docs/celery.md for the
transport options and the delivery guarantees.
"""

from __future__ import annotations

from rmq_integrations.celery.options import TransportOptions
from rmq_integrations.celery.transport import Channel, Transport

__all__ = ["SCHEME", "TRANSPORT_PATH", "Channel", "Transport", "TransportOptions", "register"]

SCHEME = "rocketmq"
TRANSPORT_PATH = "rmq_integrations.celery.transport:Transport"


def register(scheme: str = SCHEME) -> None:
    """Make kombu (and so Celery) resolve ``<scheme>://`` URLs to this transport."""
    from kombu.transport import TRANSPORT_ALIASES

    TRANSPORT_ALIASES[scheme] = TRANSPORT_PATH


register()
