"""Flask extension for rmq: config, per-app producer and listeners, signals and a CLI.

``RocketMQ(app=None)`` + ``init_app(app)``; ``@mq.listener(topic, group, tags="*")``;
``mq.send(destination, payload)`` / ``mq.template`` / ``mq.producer`` for the current app;
``flask rocketmq send|consume|topics``. See docs/flask.md. Needs the ``rmq[flask]`` extra.
"""

from rmq_integrations.flask.cli import rocketmq_cli
from rmq_integrations.flask.config import RocketMQConfigError
from rmq_integrations.flask.extension import EXTENSION_KEY, RocketMQ, RocketMQState

__all__ = ["EXTENSION_KEY", "RocketMQ", "RocketMQConfigError", "RocketMQState", "rocketmq_cli"]
