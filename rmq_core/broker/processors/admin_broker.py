"""Broker-level administration: GET_BROKER_CONFIG (26), UPDATE_BROKER_CONFIG (25),
GET_BROKER_RUNTIME_INFO (28) and GET_ALL_DELAY_OFFSET (45).

GET_BROKER_CONFIG answers ``.properties`` text of every broker key plus the main store keys,
with response header ``version`` (a DataVersion JSON string). UPDATE_BROKER_CONFIG takes
``.properties`` text; only keys listed by :meth:`BrokerConfig.mutable_keys` may change while
running (the change lasts until restart), anything else is INVALID_PARAMETER naming the keys.

GET_BROKER_RUNTIME_INFO answers a KVTable ``{"table":{...}}`` with the keys mqadmin reads
(reference §6.12), all values strings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from rmq_core.broker.config import BrokerConfig, ConfigError
from rmq_core.broker.context import BrokerContext
from rmq_core.broker.processors.common import BrokerProcessor, standard_json_body
from rmq_core.broker.properties import dump_properties, parse_properties
from rmq_core.remoting.bodies.data_version import DataVersion
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import DEFAULT_VERSION, RemotingCommand
from rmq_core.remoting.headers import GetBrokerConfigResponseHeader
from rmq_core.remoting.transport import Connection

__all__ = ["BROKER_VERSION_DESC", "BrokerAdminProcessor", "store_properties"]

logger = logging.getLogger(__name__)

BROKER_VERSION_DESC = "V4_9_4"
"""The RocketMQ version whose ordinal (401) this broker announces."""


def store_properties(ctx: BrokerContext) -> dict[str, str]:
    """The main store settings as ``broker.conf`` keys (durations in ms, hours for files)."""
    sc = ctx.store_config
    return {
        "storePathRootDir": sc.store_path_root_dir,
        "storePathCommitLog": sc.commit_log_dir,
        "mappedFileSizeCommitLog": str(sc.mapped_file_size_commit_log),
        "mappedFileSizeConsumeQueue": str(sc.mapped_file_size_consume_queue),
        "flushDiskType": sc.flush_disk_type,
        "syncFlushTimeout": str(round(sc.sync_flush_timeout * 1000)),
        "flushIntervalCommitLog": str(round(sc.flush_interval * 1000)),
        "fileReservedTime": f"{sc.file_reserved_time:g}",
        "deleteWhen": sc.delete_when,
        "diskMaxUsedSpaceRatio": str(sc.disk_max_used_space_ratio),
        "maxMessageSize": str(sc.max_message_size),
        "messageIndexEnable": "true" if sc.message_index_enable else "false",
        "messageDelayLevel": sc.message_delay_level,
    }


class BrokerAdminProcessor(BrokerProcessor):
    """Broker config and runtime information."""

    codes = (
        RequestCode.GET_BROKER_CONFIG,
        RequestCode.UPDATE_BROKER_CONFIG,
        RequestCode.GET_BROKER_RUNTIME_INFO,
        RequestCode.GET_ALL_DELAY_OFFSET,
    )

    def __init__(
        self,
        ctx: BrokerContext,
        *,
        on_config_change: Callable[[BrokerConfig, BrokerConfig], None] | None = None,
        runtime_extra: Callable[[], dict[str, str]] | None = None,
        delay_offsets: Callable[[], bytes] | None = None,
    ) -> None:
        """``on_config_change(old, new)`` runs after an update; ``runtime_extra()`` adds
        runtime keys (pool queue sizes); ``delay_offsets()`` is the delayOffset.json body."""
        super().__init__(ctx)
        self._on_config_change = on_config_change
        self._runtime_extra = runtime_extra
        self._delay_offsets = delay_offsets
        self.config_version = DataVersion.now()

    async def process(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        if request.code == RequestCode.GET_BROKER_CONFIG:
            return self._get_config(request)
        if request.code == RequestCode.UPDATE_BROKER_CONFIG:
            return self._update_config(request)
        if request.code == RequestCode.GET_BROKER_RUNTIME_INFO:
            return self.ok(request, standard_json_body({"table": self.runtime_info()}))
        if self._delay_offsets is None:
            return self.fail(request, ResponseCode.SYSTEM_ERROR, "no delay offset service")
        return self.ok(request, self._delay_offsets())

    def _get_config(self, request: RemotingCommand) -> RemotingCommand:
        values = store_properties(self.ctx)
        values.update(self.ctx.config.to_properties())
        header = GetBrokerConfigResponseHeader(
            version=standard_json_body(self.config_version.to_json()).decode("utf-8")
        )
        return request.response(
            ResponseCode.SUCCESS,
            None,
            header=header,
            body=dump_properties(values).encode("utf-8"),
        )

    def _update_config(self, request: RemotingCommand) -> RemotingCommand:
        try:
            props = parse_properties(request.body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            return self.fail(request, ResponseCode.INVALID_PARAMETER, f"body is not UTF-8: {exc}")
        if not props:
            return self.fail(request, ResponseCode.INVALID_PARAMETER, "no key=value in the body")
        unknown = sorted(set(props) - BrokerConfig.keys() - set(store_properties(self.ctx)))
        if unknown:
            return self.fail(
                request,
                ResponseCode.INVALID_PARAMETER,
                f"unknown broker config key(s): {', '.join(unknown)}",
            )
        fixed = sorted(set(props) - BrokerConfig.mutable_keys())
        if fixed:
            return self.fail(
                request,
                ResponseCode.INVALID_PARAMETER,
                f"key(s) {', '.join(fixed)} can only be changed in broker.conf and a restart",
            )
        old = self.ctx.config
        try:
            new = old.with_properties(props)
        except ConfigError as exc:
            return self.fail(request, ResponseCode.INVALID_PARAMETER, str(exc))
        self.ctx.config = new
        self.config_version.next_version()
        logger.info("broker config updated: %s", ", ".join(f"{k}={v}" for k, v in props.items()))
        if self._on_config_change is not None:
            self._on_config_change(old, new)
        return self.ok(request)

    def runtime_info(self) -> dict[str, str]:
        """The GET_BROKER_RUNTIME_INFO table."""
        stats = self.ctx.stats
        store = self.ctx.store
        info: dict[str, Any] = {
            "brokerVersionDesc": BROKER_VERSION_DESC,
            "brokerVersion": DEFAULT_VERSION,
            "brokerActive": "true",
            "bootTimestamp": self.ctx.start_time_ms,
            "msgPutTotalYesterdayMorning": stats.put_yesterday_morning,
            "msgPutTotalTodayMorning": stats.put_today_morning,
            "msgPutTotalTodayNow": stats.put_total,
            "msgGetTotalYesterdayMorning": stats.get_yesterday_morning,
            "msgGetTotalTodayMorning": stats.get_today_morning,
            "msgGetTotalTodayNow": stats.get_total,
            "putTps": stats.put_tps(),
            "getTransferredTps": stats.get_tps(),
            "getFoundTps": stats.get_tps(),
            "sendThreadPoolQueueSize": 0,
            "sendThreadPoolQueueHeadWaitTimeMills": 0,
            "pullThreadPoolQueueSize": 0,
            "pullThreadPoolQueueHeadWaitTimeMills": 0,
            "pageCacheLockTimeMills": 0,
            "earliestMessageTimeStamp": 0,
            "commitLogDiskRatio": 0.0,
            "dispatchBehindBytes": 0,
            "startAcceptSendRequestTimeStamp": 0,
            "runtime": f"[ {int(time.time() * 1000) - self.ctx.start_time_ms} ms ]",
        }
        try:
            info.update(store.runtime_info())
        except Exception:
            logger.exception("store runtime info failed")
        if self._runtime_extra is not None:
            info.update(self._runtime_extra())
        return {k: str(v) for k, v in sorted(info.items())}
