"""END_TRANSACTION (37): a producer (or its check reply) commits or rolls back a transaction.

The Java client sends it oneway, so usually nothing is answered; a caller that asks for an
answer gets the code and remark of :class:`~rmq_core.broker.transaction.service.EndOutcome`
(see :mod:`rmq_core.broker.transaction.service` for every case). A malformed header is
answered by the remoting layer's header error handling (the request names the bad field).
The ``remark`` of the request may carry the producer's local exception; it is logged.
"""

from __future__ import annotations

from rmq_core.broker.context import BrokerContext
from rmq_core.broker.processors.common import BrokerProcessor
from rmq_core.broker.transaction.service import TransactionalMessageService
from rmq_core.errors import RemoteProtocolError
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import EndTransactionRequestHeader
from rmq_core.remoting.transport import Connection

__all__ = ["EndTransactionProcessor"]


class EndTransactionProcessor(BrokerProcessor):
    """Commits and rollbacks of half messages."""

    codes = (RequestCode.END_TRANSACTION,)

    def __init__(self, ctx: BrokerContext, service: TransactionalMessageService) -> None:
        super().__init__(ctx)
        self.service = service

    async def process(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand | None:
        try:
            header = request.decode_header(EndTransactionRequestHeader)
        except RemoteProtocolError as exc:
            return self.fail(request, ResponseCode.INVALID_PARAMETER, str(exc))
        outcome = await self.service.end(header, request.remark, connection.remote_address)
        return request.response(outcome.code, outcome.remark)
