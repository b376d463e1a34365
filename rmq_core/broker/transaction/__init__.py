"""Transactional messages on the broker (reference §5.9).

- :mod:`.messages`: pure conversions (half, op, real, renewed and discarded messages);
- :mod:`.bridge`: store reads and writes of half and op messages;
- :mod:`.service`: prepare (send path) and END_TRANSACTION;
- :mod:`.check`: the periodic check-back service;
- :mod:`.resolved`: the bounded table of resolved transactions that keeps commits unique;
- :mod:`.settings`: ``transactionCheckInterval``, ``transactionTimeOut``,
  ``transactionCheckMax``.
"""

from rmq_core.broker.transaction.bridge import TransactionalMessageBridge
from rmq_core.broker.transaction.check import CheckRoundReport, TransactionCheckService
from rmq_core.broker.transaction.messages import (
    CHECK_GROUP,
    HALF_TOPIC,
    OP_HALF_TOPIC,
    TRANS_CHECK_MAX_TIME_TOPIC,
)
from rmq_core.broker.transaction.resolved import ResolvedTransactions
from rmq_core.broker.transaction.service import (
    EndOutcome,
    TransactionalMessageService,
    is_prepared_send,
)
from rmq_core.broker.transaction.settings import TransactionSettings

__all__ = [
    "CHECK_GROUP",
    "HALF_TOPIC",
    "OP_HALF_TOPIC",
    "TRANS_CHECK_MAX_TIME_TOPIC",
    "CheckRoundReport",
    "EndOutcome",
    "ResolvedTransactions",
    "TransactionCheckService",
    "TransactionSettings",
    "TransactionalMessageBridge",
    "TransactionalMessageService",
    "is_prepared_send",
]
