"""``TransactionProducer``: transactional messages (``TransactionMQProducer``, reference §5.9).

A transaction couples one message with a local transaction (typically a database write)::

    class Orders(TransactionListener):
        def execute_local_transaction(self, msg, arg):
            db.insert_order(arg)                     # runs after the half message is stored
            return LocalTransactionState.COMMIT_MESSAGE

        def check_local_transaction(self, msg):      # the broker asks when it never heard back
            return (LocalTransactionState.COMMIT_MESSAGE if db.has_order(msg.keys[0])
                    else LocalTransactionState.ROLLBACK_MESSAGE)

    async with TransactionProducer("PG_ORDERS", "127.0.0.1:9876", listener=Orders()) as p:
        result = await p.send_message_in_transaction(Message("Orders", b"..."), arg=order)

1. The message is sent as a *half* message (``TRAN_MSG=true``, ``PGROUP=<group>``, sysflag
   PREPARED): stored by the broker but invisible to consumers.
2. If that send is SEND_OK the listener's ``execute_local_transaction(msg, arg)`` runs; an
   exception counts as UNKNOW (its text travels to the broker in the remark). Any other send
   status means ROLLBACK_MESSAGE without running it.
3. END_TRANSACTION (oneway) tells the broker COMMIT (the message becomes visible), ROLLBACK
   (dropped) or UNKNOW (nothing yet).
4. For a transaction left UNKNOW (or whose END_TRANSACTION was lost) the broker later sends
   CHECK_TRANSACTION_STATE to a live producer of the group, on that producer's own connection;
   ``check_local_transaction(msg)`` answers, and the answer goes back as END_TRANSACTION with
   ``fromTransactionCheck``. Any producer of the group can answer, so a restarted or second
   producer resolves transactions of one that died.

:meth:`TransactionProducer.end_transaction` ends a half message by its :class:`SendResult` or
:class:`TransactionHandle` (a picklable summary of one, for another process): a two-phase
commit can send half messages in one process and commit or roll them back in another, with
a producer of the same group.

Listener methods may be plain functions (run in a thread: ``execute`` in asyncio's default
executor, ``check`` in a pool of ``check_thread_pool_size`` threads) or coroutine functions
(run on the loop). At most ``check_request_hold_max`` checks wait at once; more are dropped
with a warning (the broker asks again after ``transactionCheckInterval``).
"""

from __future__ import annotations

import asyncio
import enum
import functools
import inspect
import logging
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from rmq_core.client.config import ProducerConfig
from rmq_core.client.instance import ClientInstance
from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.producer import Producer
from rmq_core.client.results import SendResult, SendStatus
from rmq_core.common.message import Message, MessageConst, MessageExt, MessageSysFlag
from rmq_core.common.message_codec import MessageFormatError, decode_offset_msg_id, decode_record
from rmq_core.errors import ClientError, RocketMQError
from rmq_core.remoting.codes import RequestCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import (
    CheckTransactionStateRequestHeader,
    EndTransactionRequestHeader,
)

__all__ = [
    "LocalTransactionState",
    "TransactionHandle",
    "TransactionListener",
    "TransactionProducer",
    "TransactionSendResult",
]

log = logging.getLogger(__name__)

DEFAULT_CHECK_THREAD_POOL_SIZE = 1
DEFAULT_CHECK_REQUEST_HOLD_MAX = 2000


class LocalTransactionState(enum.StrEnum):
    """Outcome of a local transaction (Java names; ``UNKNOWN`` is an alias of ``UNKNOW``)."""

    COMMIT_MESSAGE = "COMMIT_MESSAGE"
    ROLLBACK_MESSAGE = "ROLLBACK_MESSAGE"
    UNKNOW = "UNKNOW"
    UNKNOWN = "UNKNOW"

    @property
    def wire_value(self) -> int:
        """``commitOrRollback`` of END_TRANSACTION: 8 COMMIT, 12 ROLLBACK, 0 unknown."""
        if self is LocalTransactionState.COMMIT_MESSAGE:
            return MessageSysFlag.TRANSACTION_COMMIT_TYPE
        if self is LocalTransactionState.ROLLBACK_MESSAGE:
            return MessageSysFlag.TRANSACTION_ROLLBACK_TYPE
        return MessageSysFlag.TRANSACTION_NOT_TYPE


@runtime_checkable
class TransactionListener(Protocol):
    """Runs local transactions and answers the broker's checks (sync or async methods)."""

    def execute_local_transaction(self, msg: Message, arg: Any) -> Any:
        """Run the local transaction of ``msg``; a :class:`LocalTransactionState`."""

    def check_local_transaction(self, msg: MessageExt) -> Any:
        """The current state of the transaction of ``msg``; a :class:`LocalTransactionState`."""


@dataclass(frozen=True, slots=True)
class TransactionSendResult(SendResult):
    """A :class:`SendResult` plus the local transaction's outcome."""

    local_transaction_state: LocalTransactionState = LocalTransactionState.UNKNOW


@dataclass(frozen=True, slots=True)
class TransactionHandle:
    """What END_TRANSACTION needs to end one half message (picklable, for other processes).

    ``queue_offset`` is the half message's offset in its queue (``tranStateTableOffset``),
    ``commitlog_offset`` its physical offset (from the offset message id).
    """

    topic: str
    broker_name: str
    queue_offset: int
    commitlog_offset: int
    msg_id: str
    transaction_id: str

    @classmethod
    def of(cls, result: SendResult) -> TransactionHandle:
        """The handle of a half message's send result; ClientError when it has no usable
        offset message id."""
        try:
            _host, commitlog_offset = decode_offset_msg_id(result.offset_msg_id.split(",")[0])
        except MessageFormatError as exc:
            raise ClientError(f"send result has no usable offset id: {exc}") from exc
        return cls(
            result.message_queue.topic,
            result.message_queue.broker_name,
            result.queue_offset,
            commitlog_offset,
            result.msg_id,
            result.transaction_id or result.msg_id,
        )


def _as_state(value: object) -> LocalTransactionState:
    if isinstance(value, LocalTransactionState):
        return value
    if isinstance(value, str):
        try:
            return LocalTransactionState(value)
        except ValueError:
            pass
    if value is None:
        return LocalTransactionState.UNKNOW
    log.warning("transaction listener returned %r; treating it as UNKNOW", value)
    return LocalTransactionState.UNKNOW


async def _call(
    fn: Callable[..., Any], args: tuple[Any, ...], executor: ThreadPoolExecutor | None
) -> Any:
    """Call a sync (in ``executor``) or async listener method; returns its result."""
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    loop = asyncio.get_running_loop()
    outcome = await loop.run_in_executor(executor, functools.partial(fn, *args))
    if inspect.isawaitable(outcome):
        outcome = await outcome
    return outcome


class TransactionProducer(Producer):
    """A :class:`Producer` that also sends transactional messages (module docstring).

    ``TransactionProducer(group, namesrv_addr, listener=..., **options)``; ``options`` are
    :class:`ProducerConfig` fields. ``check_thread_pool_size`` threads run a plain
    ``check_local_transaction``.
    """

    def __init__(
        self,
        group: str | None = None,
        namesrv_addr: str | Sequence[str] | None = None,
        *,
        listener: TransactionListener | None = None,
        check_thread_pool_size: int = DEFAULT_CHECK_THREAD_POOL_SIZE,
        check_request_hold_max: int = DEFAULT_CHECK_REQUEST_HOLD_MAX,
        config: ProducerConfig | None = None,
        **options: Any,
    ) -> None:
        super().__init__(group, namesrv_addr, config=config, **options)
        if check_thread_pool_size <= 0 or check_request_hold_max <= 0:
            raise ClientError("check_thread_pool_size and check_request_hold_max must be > 0")
        self.listener = listener
        self.check_thread_pool_size = check_thread_pool_size
        self.check_request_hold_max = check_request_hold_max
        self._check_executor: ThreadPoolExecutor | None = None
        self._checks: set[asyncio.Task[None]] = set()

    def set_transaction_listener(self, listener: TransactionListener) -> None:
        """Set (or replace) the listener."""
        self.listener = listener

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the producer and answer the broker's transaction checks for its group."""
        self._check_executor = ThreadPoolExecutor(
            self.check_thread_pool_size, thread_name_prefix=f"tx-check-{self.group}"
        )
        await super().start()
        _dispatcher_of(self.instance).add(self)

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Stop answering checks (running ones get ``timeout`` s), then shut the producer."""
        if self._instance is not None:
            _dispatcher_of(self._instance).remove(self)
        if self._checks:
            _done, pending = await asyncio.wait(set(self._checks), timeout=timeout)
            for task in pending:
                task.cancel()
        if self._check_executor is not None:
            self._check_executor.shutdown(wait=False, cancel_futures=True)
        await super().shutdown(timeout)

    async def __aenter__(self) -> TransactionProducer:
        await self.start()
        return self

    # --- sending ---------------------------------------------------------------------------

    async def _prepare(self, msg: Message) -> tuple[bytes, int]:
        body, sys_flag = await super()._prepare(msg)
        if msg.properties.get(MessageConst.PROPERTY_TRANSACTION_PREPARED) == "true":
            sys_flag |= MessageSysFlag.TRANSACTION_PREPARED_TYPE
        return body, sys_flag

    async def send_message_in_transaction(
        self, msg: Message, arg: Any = None, *, timeout: float | None = None
    ) -> TransactionSendResult:
        """Send ``msg`` as a half message, run the local transaction, end the transaction.

        Raises ClientError without a listener, and the send's error when the half message
        cannot be sent; a failed END_TRANSACTION is only logged (the broker will check).
        """
        listener = self.listener
        if listener is None:
            raise ClientError(f"producer group {self.group}: set a transaction listener first")
        msg.remove_property(MessageConst.PROPERTY_DELAY_TIME_LEVEL)
        msg.put_property(MessageConst.PROPERTY_TRANSACTION_PREPARED, "true")
        msg.put_property(MessageConst.PROPERTY_PRODUCER_GROUP, self.group)
        result = await self.send(msg, timeout=timeout)
        error: BaseException | None = None
        if result.status is SendStatus.SEND_OK:
            try:
                outcome = await _call(listener.execute_local_transaction, (msg, arg), None)
                state = _as_state(outcome)
            except Exception as exc:
                log.warning("group %s: local transaction of %s raised", self.group, result.msg_id)
                state, error = LocalTransactionState.UNKNOW, exc
        else:
            state = LocalTransactionState.ROLLBACK_MESSAGE
        try:
            await self._end_transaction(result, state, error)
        except RocketMQError as exc:
            log.warning(
                "group %s: local transaction %s is %s but END_TRANSACTION failed: %s",
                self.group,
                result.msg_id,
                state.value,
                exc,
            )
        return TransactionSendResult(
            status=result.status,
            msg_id=result.msg_id,
            offset_msg_id=result.offset_msg_id,
            message_queue=result.message_queue,
            queue_offset=result.queue_offset,
            transaction_id=result.transaction_id or result.msg_id,
            region_id=result.region_id,
            trace_on=result.trace_on,
            local_transaction_state=state,
        )

    async def end_transaction(
        self,
        target: SendResult | TransactionHandle,
        state: LocalTransactionState,
        *,
        timeout: float | None = None,
    ) -> None:
        """Commit (COMMIT_MESSAGE) or roll back (ROLLBACK_MESSAGE) a half message, waiting
        for the broker's answer (up to ``timeout`` s, default ``send_msg_timeout``).

        ``target`` is the half message's send result or its :class:`TransactionHandle`, so
        any process may end it, with a producer of the half message's group (the broker
        checks it). UNKNOW leaves the message to the broker's checks. Raises the broker's
        error (or a transport error) when the transaction could not be ended.
        """
        self._check_running()
        handle = target if isinstance(target, TransactionHandle) else TransactionHandle.of(target)
        addr = await self._broker_addr(MessageQueue(handle.topic, handle.broker_name, 0))
        wait = self.config.send_msg_timeout if timeout is None else timeout
        await self.instance.api.end_transaction(addr, self._end_header(handle, state), wait, None)

    def _end_header(
        self, handle: TransactionHandle, state: LocalTransactionState
    ) -> EndTransactionRequestHeader:
        return EndTransactionRequestHeader(
            topic=handle.topic,
            producer_group=self.group,
            tran_state_table_offset=handle.queue_offset,
            commit_log_offset=handle.commitlog_offset,
            commit_or_rollback=state.wire_value,
            from_transaction_check=False,
            msg_id=handle.msg_id,
            transaction_id=handle.transaction_id,
            bname=handle.broker_name,
        )

    async def _end_transaction(
        self, result: SendResult, state: LocalTransactionState, error: BaseException | None
    ) -> None:
        """END_TRANSACTION after the local transaction: oneway, as the Java client sends it."""
        handle = TransactionHandle.of(result)
        addr = await self._broker_addr(result.message_queue)
        remark = f"executeLocalTransactionBranch exception: {error}" if error else None
        header = self._end_header(handle, state)
        request = RemotingCommand.request(RequestCode.END_TRANSACTION, header, oneway=True)
        request.remark = remark
        await self.instance.api.invoke_oneway(addr, request, f"end transaction {result.msg_id}")

    # --- checks ----------------------------------------------------------------------------

    def _accept_check(
        self, header: CheckTransactionStateRequestHeader, msg: MessageExt, connection: Any
    ) -> None:
        """Queue a check (dropped with a warning when ``check_request_hold_max`` are waiting)."""
        if len(self._checks) >= self.check_request_hold_max:
            log.warning("group %s: too many transaction checks waiting; dropping one", self.group)
            return
        task = asyncio.ensure_future(self._answer_check(header, msg, connection))
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _answer_check(
        self, header: CheckTransactionStateRequestHeader, msg: MessageExt, connection: Any
    ) -> None:
        listener = self.listener
        error: BaseException | None = None
        if listener is None:
            state = LocalTransactionState.UNKNOW
        else:
            try:
                outcome = await _call(
                    listener.check_local_transaction, (msg,), self._check_executor
                )
                state = _as_state(outcome)
            except Exception as exc:
                log.warning("group %s: check of %s raised: %r", self.group, header.msg_id, exc)
                state, error = LocalTransactionState.UNKNOW, exc
        uniq = msg.properties.get(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
        reply = EndTransactionRequestHeader(
            topic=header.topic or msg.topic,
            producer_group=self.group,
            tran_state_table_offset=header.tran_state_table_offset,
            commit_log_offset=header.commit_log_offset,
            commit_or_rollback=state.wire_value,
            from_transaction_check=True,
            msg_id=uniq or header.msg_id or msg.msg_id,
            transaction_id=header.transaction_id,
            bname=header.bname,
        )
        request = RemotingCommand.request(RequestCode.END_TRANSACTION, reply, oneway=True)
        request.remark = f"checkLocalTransactionState exception: {error}" if error else None
        try:
            await connection.invoke_oneway(request)
        except (RocketMQError, OSError) as exc:
            log.info("group %s: answer to check of %s failed: %s", self.group, header.msg_id, exc)


class _CheckDispatcher:
    """Routes CHECK_TRANSACTION_STATE of one client instance to the producer of the group."""

    def __init__(self, instance: ClientInstance) -> None:
        self.producers: dict[str, TransactionProducer] = {}
        instance.remoting.register_processor(RequestCode.CHECK_TRANSACTION_STATE, self.process)

    def add(self, producer: TransactionProducer) -> None:
        self.producers[producer.group] = producer

    def remove(self, producer: TransactionProducer) -> None:
        if self.producers.get(producer.group) is producer:
            del self.producers[producer.group]

    async def process(self, request: RemotingCommand, connection: Any) -> RemotingCommand | None:
        try:
            header = request.decode_header(CheckTransactionStateRequestHeader)
            msg, _end = decode_record(request.body)
        except (RocketMQError, MessageFormatError) as exc:
            log.warning("malformed CHECK_TRANSACTION_STATE from %s: %s", connection, exc)
            return None
        group = msg.properties.get(MessageConst.PROPERTY_PRODUCER_GROUP, "")
        producer = self.producers.get(group)
        if producer is None:
            log.warning("transaction check for unknown producer group %r ignored", group)
            return None
        producer._accept_check(header, msg, connection)
        return None


_DISPATCHERS: weakref.WeakKeyDictionary[ClientInstance, _CheckDispatcher] = (
    weakref.WeakKeyDictionary()
)


def _dispatcher_of(instance: ClientInstance) -> _CheckDispatcher:
    dispatcher = _DISPATCHERS.get(instance)
    if dispatcher is None:
        dispatcher = _DISPATCHERS[instance] = _CheckDispatcher(instance)
    return dispatcher
