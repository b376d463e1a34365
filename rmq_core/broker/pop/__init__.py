"""RocketMQ 5 pop consumption on the broker: in-flight state, revive service, long polling.

See :mod:`rmq_core.broker.pop.service` for the behaviour and
:mod:`rmq_core.broker.pop.state` for the state and its ``popState.json`` persistence.
"""

from rmq_core.broker.pop.long_polling import HeldPop, PopHoldService
from rmq_core.broker.pop.service import POP_STATE_FILE, PopBatch, PopService
from rmq_core.broker.pop.state import InFlight, PopStateTable, QueueState

__all__ = [
    "POP_STATE_FILE",
    "HeldPop",
    "InFlight",
    "PopBatch",
    "PopHoldService",
    "PopService",
    "PopStateTable",
    "QueueState",
]
