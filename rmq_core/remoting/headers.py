"""Typed custom headers: the ``extFields`` of a :class:`RemotingCommand` (reference §1.4, §2.3).

A header is a slotted, keyword-only dataclass deriving from :class:`CommandHeader`. Each field
maps to one wire key:

- the wire name is the camelCase form of the Python name (``producer_group`` ->
  ``producerGroup``) unless the field's metadata names it (``wire("a")`` for the
  SEND_MESSAGE_V2 short names, ``wire("clientID")`` for Java's irregular spellings);
- a field without a default is *required* (Java's ``@CFNotNull``); a field defaulting to
  ``None`` is optional and omitted from the wire when ``None``; a field with another default
  (``unit_mode: bool = False``) is optional on decode and always written, as Java writes
  primitive fields;
- supported types are ``str``, ``int``, ``bool`` and ``float`` (each optionally ``| None``).

Decoding (:meth:`CommandHeader.from_ext_fields`) accepts strings, numbers and booleans for any
field, because ali-ons sends raw JSON numbers and booleans, and converts them to the field's
type. An empty string for a non-string field counts as absent (the C++ client sends empty
values for unset fields). Encoding (:meth:`CommandHeader.to_ext_fields`) always produces
strings: numbers in decimal, booleans as ``"true"``/``"false"`` (numeric values break the C++
client, see the interop notes).

Invariant: for every header ``h``, ``type(h).from_ext_fields(h.to_ext_fields()) == h``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self, cast

from rmq_core.errors import RemoteProtocolError

__all__ = [
    "AddWritePermOfBrokerRequestHeader",
    "AddWritePermOfBrokerResponseHeader",
    "CheckTransactionStateRequestHeader",
    "CloneGroupOffsetRequestHeader",
    "CommandHeader",
    "ConsumeMessageDirectlyResultRequestHeader",
    "ConsumerSendMsgBackRequestHeader",
    "CreateTopicRequestHeader",
    "DeleteKVConfigRequestHeader",
    "DeleteSubscriptionGroupRequestHeader",
    "DeleteTopicFromNamesrvRequestHeader",
    "DeleteTopicRequestHeader",
    "EndTransactionRequestHeader",
    "GetAllSubscriptionGroupConfigRequestHeader",
    "GetAllTopicConfigRequestHeader",
    "GetAllTopicConfigResponseHeader",
    "GetBrokerConfigResponseHeader",
    "GetConsumeStatsRequestHeader",
    "GetConsumerConnectionListRequestHeader",
    "GetConsumerListByGroupRequestHeader",
    "GetConsumerRunningInfoRequestHeader",
    "GetConsumerStatusRequestHeader",
    "GetEarliestMsgStoretimeRequestHeader",
    "GetEarliestMsgStoretimeResponseHeader",
    "GetKVConfigRequestHeader",
    "GetKVConfigResponseHeader",
    "GetKVListByNamespaceRequestHeader",
    "GetMaxOffsetRequestHeader",
    "GetMaxOffsetResponseHeader",
    "GetMinOffsetRequestHeader",
    "GetMinOffsetResponseHeader",
    "GetProducerConnectionListRequestHeader",
    "GetRouteInfoRequestHeader",
    "GetSubscriptionGroupConfigRequestHeader",
    "GetTopicConfigRequestHeader",
    "GetTopicStatsInfoRequestHeader",
    "GetTopicsByClusterRequestHeader",
    "HeaderFieldError",
    "HeartbeatRequestHeader",
    "NotifyConsumerIdsChangedRequestHeader",
    "PullMessageRequestHeader",
    "PullMessageResponseHeader",
    "PutKVConfigRequestHeader",
    "QueryConsumeTimeSpanRequestHeader",
    "QueryConsumerOffsetRequestHeader",
    "QueryConsumerOffsetResponseHeader",
    "QueryCorrectionOffsetHeader",
    "QueryDataVersionRequestHeader",
    "QueryDataVersionResponseHeader",
    "QueryMessageRequestHeader",
    "QueryMessageResponseHeader",
    "QuerySubscriptionByConsumerRequestHeader",
    "QueryTopicConsumeByWhoRequestHeader",
    "QueryTopicsByConsumerRequestHeader",
    "RegisterBrokerRequestHeader",
    "RegisterBrokerResponseHeader",
    "RegisterTopicRequestHeader",
    "ReplyMessageRequestHeader",
    "ResetOffsetRequestHeader",
    "SearchOffsetRequestHeader",
    "SearchOffsetResponseHeader",
    "SendMessageRequestHeader",
    "SendMessageRequestHeaderV2",
    "SendMessageResponseHeader",
    "UnRegisterBrokerRequestHeader",
    "UnregisterClientRequestHeader",
    "UpdateConsumerOffsetRequestHeader",
    "ViewBrokerStatsDataRequestHeader",
    "ViewMessageRequestHeader",
    "WipeWritePermOfBrokerRequestHeader",
    "WipeWritePermOfBrokerResponseHeader",
    "camel_case",
    "wire",
]

_WIRE_KEY = "rmq_wire_name"


class HeaderFieldError(RemoteProtocolError):
    """A required header field is missing or a field's value cannot be converted.

    ``field`` is the wire name (what the peer sent or should have sent); the message names
    both the wire name and, when they differ, the Python name.
    """

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def wire(name: str, default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field whose wire key is ``name`` (e.g. ``wire("a")``, ``wire("clientID")``).

    Without ``default`` the field is required.
    """
    return field(default=default, metadata={_WIRE_KEY: name})


def camel_case(name: str) -> str:
    """``producer_group`` -> ``producerGroup`` (digits stay attached: ``body_crc32``)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# --- conversion -------------------------------------------------------------------------------

_TRUE_TEXT = frozenset({"true", "1"})
_FALSE_TEXT = frozenset({"false", "0"})


def _to_str(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise ValueError(f"expected a string, got {type(value).__name__}")


def _to_int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return int(value.strip(), 10)
    raise ValueError(f"expected an integer, got {value!r}")


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE_TEXT:
            return True
        if text in _FALSE_TEXT:
            return False
    raise ValueError(f"expected a boolean, got {value!r}")


def _to_float(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return float(value.strip())
    raise ValueError(f"expected a number, got {value!r}")


def _format(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


_CONVERTERS: dict[type, Callable[[object], Any]] = {
    str: _to_str,
    int: _to_int,
    bool: _to_bool,
    float: _to_float,
}


@dataclass(frozen=True, slots=True)
class _FieldSpec:
    """How one header field travels: python name, wire name, converter, required flag."""

    name: str
    wire_name: str
    convert: Callable[[object], Any]
    is_string: bool
    required: bool


def _scalar_type(hint: object, owner: type, name: str) -> type:
    """The scalar type of a field annotated ``T`` or ``T | None``."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(args) == 1:
            hint = args[0]
    if isinstance(hint, type) and hint in _CONVERTERS:
        return hint
    raise TypeError(f"{owner.__name__}.{name}: unsupported header field type {hint!r}")


def _build_specs(cls: type) -> tuple[_FieldSpec, ...]:
    hints = typing.get_type_hints(cls)
    specs = []
    for item in dataclasses.fields(cls):
        scalar = _scalar_type(hints[item.name], cls, item.name)
        required = (
            item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
        )
        specs.append(
            _FieldSpec(
                name=item.name,
                wire_name=item.metadata.get(_WIRE_KEY, camel_case(item.name)),
                convert=_CONVERTERS[scalar],
                is_string=scalar is str,
                required=required,
            )
        )
    return tuple(specs)


_SPECS: dict[type, tuple[_FieldSpec, ...]] = {}


def _specs(cls: type) -> tuple[_FieldSpec, ...]:
    specs = _SPECS.get(cls)
    if specs is None:
        specs = _SPECS[cls] = _build_specs(cls)
    return specs


def _describe(spec: _FieldSpec) -> str:
    if spec.wire_name == spec.name:
        return f"'{spec.wire_name}'"
    return f"'{spec.wire_name}' ({spec.name})"


# --- generated codecs -------------------------------------------------------------------------
# Headers are decoded and encoded for every request and response, so each header class gets a
# decoder and an encoder generated once (like dataclasses generates __init__): straight-line
# code per field with a fast path for the common value type (a str from the wire, an int or a
# str from Python), falling back to the general converters above. Behaviour is that of the
# generic loop they replace: same conversions, same HeaderFieldError messages.

Decoder = Callable[[Mapping[str, object]], Any]
Encoder = Callable[[Any], dict[str, str]]
_DECODERS: dict[type, Decoder] = {}
_ENCODERS: dict[type, Encoder] = {}


def _missing(spec: _FieldSpec) -> HeaderFieldError:
    return HeaderFieldError(
        f"missing required header field {_describe(spec)}", field=spec.wire_name
    )


def _malformed(spec: _FieldSpec, exc: ValueError) -> HeaderFieldError:
    return HeaderFieldError(
        f"malformed header field {_describe(spec)}: {exc}", field=spec.wire_name
    )


def _defaults(cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        if item.default is not dataclasses.MISSING:
            out[item.name] = item.default
    return out


def _build_decoder(cls: type) -> Decoder:
    specs = _specs(cls)
    defaults = _defaults(cls)
    env: dict[str, Any] = {
        "cls": cls, "_missing": _missing, "_malformed": _malformed, "str": str, "int": int,
    }  # fmt: skip
    lines = ["def decode(fields):", "    get = fields.get"]
    args = []
    for i, spec in enumerate(specs):
        env[f"S{i}"] = spec
        env[f"C{i}"] = spec.convert
        var = f"v{i}"
        absent = "raw is None" if spec.is_string else 'raw is None or raw == ""'
        lines.append(f"    raw = get({spec.wire_name!r})")
        lines.append(f"    if {absent}:")
        if spec.required:
            lines.append(f"        raise _missing(S{i})")
        elif spec.name in defaults:
            env[f"D{i}"] = defaults[spec.name]
            lines.append(f"        {var} = D{i}")
        else:  # a default_factory: leave it to the dataclass
            lines.append(f"        {var} = _UNSET")
            env["_UNSET"] = _UNSET
        lines.append("    else:")
        if spec.convert is _to_str:
            lines.append(f"        {var} = raw if raw.__class__ is str else C{i}(raw)")
        else:
            fast = ""
            if spec.convert is _to_int:
                fast = "int(raw) if raw.__class__ is str else "
            elif spec.convert is _to_bool:  # the texts Java writes, else the general rule
                fast = 'True if raw == "true" else False if raw == "false" else '
            lines.append("        try:")
            lines.append(f"            {var} = {fast}C{i}(raw)")
            lines.append("        except ValueError as exc:")
            lines.append(f"            raise _malformed(S{i}, exc) from exc")
        args.append((spec.name, var))
    if "_UNSET" in env:
        lines.append("    kwargs = {" + ", ".join(f"{n!r}: {v}" for n, v in args) + "}")
        lines.append("    return cls(**{k: v for k, v in kwargs.items() if v is not _UNSET})")
    else:
        lines.append("    return cls(" + ", ".join(f"{n}={v}" for n, v in args) + ")")
    exec("\n".join(lines), env)  # generated from the class's own field specs
    decoder: Decoder = env["decode"]
    return decoder


def _build_encoder(cls: type) -> Encoder:
    specs = _specs(cls)
    env: dict[str, Any] = {"_format": _format, "str": str, "int": int}
    lines = ["def encode(self):", "    out = {}"]
    for spec in specs:
        lines.append(f"    value = self.{spec.name}")
        lines.append("    if value is not None:")
        if spec.is_string:
            expr = "value if value.__class__ is str else _format(value)"
        elif spec.convert is _to_int:
            expr = "str(value) if value.__class__ is int else _format(value)"
        else:
            expr = "_format(value)"
        lines.append(f"        out[{spec.wire_name!r}] = {expr}")
    lines.append("    return out")
    exec("\n".join(lines), env)  # generated from the class's own field specs
    encoder: Encoder = env["encode"]
    return encoder


class _Unset:
    """Marker for an absent optional field whose default comes from a default_factory."""


_UNSET = _Unset()


@dataclass(slots=True, kw_only=True)
class CommandHeader:
    """Base of every typed custom header; see the module docstring for the mapping rules."""

    @classmethod
    def field_wire_names(cls) -> dict[str, str]:
        """Python field name -> wire key, in declaration order."""
        return {spec.name: spec.wire_name for spec in _specs(cls)}

    @classmethod
    def from_ext_fields(cls, fields: Mapping[str, object]) -> Self:
        """Decode ``fields`` (wire key -> str/int/bool/float); unknown keys are ignored.

        Raises :class:`HeaderFieldError` naming the field when a required field is missing or
        any present value cannot be converted to the field's type.
        """
        decoder = _DECODERS.get(cls)
        if decoder is None:
            decoder = _DECODERS[cls] = _build_decoder(cls)
        return cast(Self, decoder(fields))

    def to_ext_fields(self) -> dict[str, str]:
        """Encode as wire key -> string; ``None`` fields are omitted."""
        cls = type(self)
        encoder = _ENCODERS.get(cls)
        if encoder is None:
            encoder = _ENCODERS[cls] = _build_encoder(cls)
        return encoder(self)


# --- sending ----------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class SendMessageRequestHeader(CommandHeader):
    """SEND_MESSAGE (10) with long key names; ``born_timestamp`` in ms."""

    producer_group: str
    topic: str
    default_topic: str
    default_topic_queue_nums: int
    queue_id: int
    sys_flag: int
    born_timestamp: int
    flag: int
    properties: str | None = None
    reconsume_times: int | None = None
    unit_mode: bool = False
    batch: bool | None = None
    max_reconsume_times: int | None = None
    bname: str | None = None


@dataclass(slots=True, kw_only=True)
class SendMessageRequestHeaderV2(CommandHeader):
    """SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320), SEND_REPLY_MESSAGE_V2 (325): the same
    fields as :class:`SendMessageRequestHeader` under the short keys ``a``..``n``."""

    producer_group: str = wire("a")
    topic: str = wire("b")
    default_topic: str = wire("c")
    default_topic_queue_nums: int = wire("d")
    queue_id: int = wire("e")
    sys_flag: int = wire("f")
    born_timestamp: int = wire("g")
    flag: int = wire("h")
    properties: str | None = wire("i", None)
    reconsume_times: int | None = wire("j", None)
    unit_mode: bool = wire("k", False)
    max_reconsume_times: int | None = wire("l", None)
    batch: bool | None = wire("m", None)
    bname: str | None = wire("n", None)

    @classmethod
    def from_v1(cls, header: SendMessageRequestHeader) -> SendMessageRequestHeaderV2:
        """The short-key form of a long-key header."""
        return cls(**{name: getattr(header, name) for name in _V1_V2_FIELDS})


_V1_V2_FIELDS = tuple(item.name for item in dataclasses.fields(SendMessageRequestHeaderV2))


@dataclass(slots=True, kw_only=True)
class SendMessageResponseHeader(CommandHeader):
    """Send response: offset message id(s), queue id, consume-queue offset."""

    msg_id: str
    queue_id: int
    queue_offset: int
    transaction_id: str | None = None
    batch_uniq_id: str | None = None
    recall_handle: str | None = None


@dataclass(slots=True, kw_only=True)
class ReplyMessageRequestHeader(CommandHeader):
    """PUSH_REPLY_MESSAGE_TO_CLIENT (326): a reply delivered to the requester; times in ms."""

    producer_group: str
    topic: str
    default_topic: str
    default_topic_queue_nums: int
    queue_id: int
    sys_flag: int
    born_timestamp: int
    flag: int
    properties: str | None = None
    reconsume_times: int | None = None
    unit_mode: bool = False
    born_host: str
    store_host: str
    store_timestamp: int


# --- pulling and offsets ----------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class PullMessageRequestHeader(CommandHeader):
    """PULL_MESSAGE (11) / LITE_PULL_MESSAGE (361); ``suspend_timeout_millis`` in ms."""

    consumer_group: str
    topic: str
    queue_id: int
    queue_offset: int
    max_msg_nums: int
    sys_flag: int
    commit_offset: int
    suspend_timeout_millis: int
    subscription: str | None = None
    sub_version: int
    expression_type: str | None = None
    max_msg_bytes: int | None = None
    request_source: int | None = None
    proxy_froward_client_id: str | None = None
    bname: str | None = None


@dataclass(slots=True, kw_only=True)
class PullMessageResponseHeader(CommandHeader):
    """Pull response; the four required fields must be set even on "not found"."""

    suggest_which_broker_id: int
    next_begin_offset: int
    min_offset: int
    max_offset: int
    offset_delta: int | None = None
    topic_sys_flag: int | None = None
    group_sys_flag: int | None = None
    forbidden_type: int | None = None


@dataclass(slots=True, kw_only=True)
class QueryConsumerOffsetRequestHeader(CommandHeader):
    """QUERY_CONSUMER_OFFSET (14)."""

    consumer_group: str
    topic: str
    queue_id: int
    set_zero_if_not_found: bool | None = None
    bname: str | None = None


@dataclass(slots=True, kw_only=True)
class QueryConsumerOffsetResponseHeader(CommandHeader):
    """QUERY_CONSUMER_OFFSET response: the committed logical offset."""

    offset: int


@dataclass(slots=True, kw_only=True)
class UpdateConsumerOffsetRequestHeader(CommandHeader):
    """UPDATE_CONSUMER_OFFSET (15); a negative ``commit_offset`` means "no offset"."""

    consumer_group: str
    topic: str
    queue_id: int
    commit_offset: int
    bname: str | None = None


@dataclass(slots=True, kw_only=True)
class GetMaxOffsetRequestHeader(CommandHeader):
    """GET_MAX_OFFSET (30)."""

    topic: str
    queue_id: int
    committed: bool = True
    bname: str | None = None


@dataclass(slots=True, kw_only=True)
class GetMaxOffsetResponseHeader(CommandHeader):
    """GET_MAX_OFFSET response: the next logical offset to be written."""

    offset: int


@dataclass(slots=True, kw_only=True)
class GetMinOffsetRequestHeader(CommandHeader):
    """GET_MIN_OFFSET (31)."""

    topic: str
    queue_id: int
    bname: str | None = None


@dataclass(slots=True, kw_only=True)
class GetMinOffsetResponseHeader(CommandHeader):
    """GET_MIN_OFFSET response."""

    offset: int


@dataclass(slots=True, kw_only=True)
class SearchOffsetRequestHeader(CommandHeader):
    """SEARCH_OFFSET_BY_TIMESTAMP (29); ``timestamp`` in ms, ``boundary_type`` LOWER/UPPER."""

    topic: str
    queue_id: int
    timestamp: int
    boundary_type: str | None = None
    bname: str | None = None


@dataclass(slots=True, kw_only=True)
class SearchOffsetResponseHeader(CommandHeader):
    """SEARCH_OFFSET_BY_TIMESTAMP response."""

    offset: int


@dataclass(slots=True, kw_only=True)
class GetEarliestMsgStoretimeRequestHeader(CommandHeader):
    """GET_EARLIEST_MSG_STORETIME (32)."""

    topic: str
    queue_id: int
    bname: str | None = None


@dataclass(slots=True, kw_only=True)
class GetEarliestMsgStoretimeResponseHeader(CommandHeader):
    """GET_EARLIEST_MSG_STORETIME response; ``timestamp`` in ms."""

    timestamp: int


# --- clients, retries, transactions, queries --------------------------------------------------


@dataclass(slots=True, kw_only=True)
class HeartbeatRequestHeader(CommandHeader):
    """HEART_BEAT (34): no keys of its own (the body carries HeartbeatData)."""

    bname: str | None = None


@dataclass(slots=True, kw_only=True)
class UnregisterClientRequestHeader(CommandHeader):
    """UNREGISTER_CLIENT (35); an empty group means absent."""

    client_id: str = wire("clientID")
    producer_group: str | None = None
    consumer_group: str | None = None


@dataclass(slots=True, kw_only=True)
class GetConsumerListByGroupRequestHeader(CommandHeader):
    """GET_CONSUMER_LIST_BY_GROUP (38)."""

    consumer_group: str


@dataclass(slots=True, kw_only=True)
class NotifyConsumerIdsChangedRequestHeader(CommandHeader):
    """NOTIFY_CONSUMER_IDS_CHANGED (40, broker -> client)."""

    consumer_group: str


@dataclass(slots=True, kw_only=True)
class ConsumerSendMsgBackRequestHeader(CommandHeader):
    """CONSUMER_SEND_MSG_BACK (36); ``offset`` is the commitlog offset of the message."""

    offset: int
    group: str
    delay_level: int
    origin_msg_id: str | None = None
    origin_topic: str | None = None
    unit_mode: bool = False
    max_reconsume_times: int | None = None
    bname: str | None = None


@dataclass(slots=True, kw_only=True)
class EndTransactionRequestHeader(CommandHeader):
    """END_TRANSACTION (37); ``commit_or_rollback`` 0 unknown, 8 commit, 12 rollback."""

    topic: str | None = None
    producer_group: str
    tran_state_table_offset: int
    commit_log_offset: int
    commit_or_rollback: int
    from_transaction_check: bool = False
    msg_id: str
    transaction_id: str | None = None
    bname: str | None = None


@dataclass(slots=True, kw_only=True)
class CheckTransactionStateRequestHeader(CommandHeader):
    """CHECK_TRANSACTION_STATE (39, broker -> client, oneway)."""

    topic: str | None = None
    tran_state_table_offset: int
    commit_log_offset: int
    msg_id: str | None = None
    transaction_id: str | None = None
    offset_msg_id: str | None = None
    bname: str | None = None


@dataclass(slots=True, kw_only=True)
class QueryMessageRequestHeader(CommandHeader):
    """QUERY_MESSAGE (12); timestamps in ms."""

    topic: str
    key: str
    max_num: int
    begin_timestamp: int
    end_timestamp: int
    bname: str | None = None


@dataclass(slots=True, kw_only=True)
class QueryMessageResponseHeader(CommandHeader):
    """QUERY_MESSAGE response; ``index_last_update_timestamp`` in ms."""

    index_last_update_timestamp: int
    index_last_update_phyoffset: int


@dataclass(slots=True, kw_only=True)
class ViewMessageRequestHeader(CommandHeader):
    """VIEW_MESSAGE_BY_ID (33); ``offset`` is a commitlog offset."""

    offset: int
    topic: str | None = None
    bname: str | None = None


# --- NameServer -------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class GetRouteInfoRequestHeader(CommandHeader):
    """GET_ROUTEINFO_BY_TOPIC (105)."""

    topic: str
    accept_standard_json_only: bool | None = None


@dataclass(slots=True, kw_only=True)
class RegisterBrokerRequestHeader(CommandHeader):
    """REGISTER_BROKER (103); ``heartbeat_timeout_millis`` in ms; ``body_crc32`` 0 = unchecked."""

    broker_name: str
    broker_addr: str
    cluster_name: str
    ha_server_addr: str
    broker_id: int
    heartbeat_timeout_millis: int | None = None
    enable_acting_master: bool | None = None
    compressed: bool = False
    body_crc32: int = 0


@dataclass(slots=True, kw_only=True)
class RegisterBrokerResponseHeader(CommandHeader):
    """REGISTER_BROKER response: the master's HA and main address (for slaves)."""

    ha_server_addr: str | None = None
    master_addr: str | None = None


@dataclass(slots=True, kw_only=True)
class UnRegisterBrokerRequestHeader(CommandHeader):
    """UNREGISTER_BROKER (104)."""

    broker_name: str
    broker_addr: str
    cluster_name: str
    broker_id: int


@dataclass(slots=True, kw_only=True)
class QueryDataVersionRequestHeader(CommandHeader):
    """QUERY_DATA_VERSION (322); the body carries the broker's DataVersion."""

    broker_name: str
    broker_addr: str
    cluster_name: str
    broker_id: int


@dataclass(slots=True, kw_only=True)
class QueryDataVersionResponseHeader(CommandHeader):
    """QUERY_DATA_VERSION response: whether the NameServer's copy differs."""

    changed: bool | None = None


@dataclass(slots=True, kw_only=True)
class DeleteTopicFromNamesrvRequestHeader(CommandHeader):
    """DELETE_TOPIC_IN_NAMESRV (216)."""

    topic: str
    cluster_name: str | None = None


@dataclass(slots=True, kw_only=True)
class RegisterTopicRequestHeader(CommandHeader):
    """REGISTER_TOPIC_IN_NAMESRV (217); the body is a TopicRouteData."""

    topic: str


@dataclass(slots=True, kw_only=True)
class PutKVConfigRequestHeader(CommandHeader):
    """PUT_KV_CONFIG (100)."""

    namespace: str
    key: str
    value: str


@dataclass(slots=True, kw_only=True)
class GetKVConfigRequestHeader(CommandHeader):
    """GET_KV_CONFIG (101)."""

    namespace: str
    key: str


@dataclass(slots=True, kw_only=True)
class GetKVConfigResponseHeader(CommandHeader):
    """GET_KV_CONFIG response."""

    value: str | None = None


@dataclass(slots=True, kw_only=True)
class DeleteKVConfigRequestHeader(CommandHeader):
    """DELETE_KV_CONFIG (102)."""

    namespace: str
    key: str


@dataclass(slots=True, kw_only=True)
class GetKVListByNamespaceRequestHeader(CommandHeader):
    """GET_KVLIST_BY_NAMESPACE (219)."""

    namespace: str


@dataclass(slots=True, kw_only=True)
class WipeWritePermOfBrokerRequestHeader(CommandHeader):
    """WIPE_WRITE_PERM_OF_BROKER (205)."""

    broker_name: str


@dataclass(slots=True, kw_only=True)
class WipeWritePermOfBrokerResponseHeader(CommandHeader):
    """WIPE_WRITE_PERM_OF_BROKER response: how many topics lost write permission."""

    wipe_topic_count: int


@dataclass(slots=True, kw_only=True)
class AddWritePermOfBrokerRequestHeader(CommandHeader):
    """ADD_WRITE_PERM_OF_BROKER (327)."""

    broker_name: str


@dataclass(slots=True, kw_only=True)
class AddWritePermOfBrokerResponseHeader(CommandHeader):
    """ADD_WRITE_PERM_OF_BROKER response: how many topics regained write permission."""

    add_topic_count: int


@dataclass(slots=True, kw_only=True)
class GetTopicsByClusterRequestHeader(CommandHeader):
    """GET_TOPICS_BY_CLUSTER (224)."""

    cluster: str


# --- admin ------------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class CreateTopicRequestHeader(CommandHeader):
    """UPDATE_AND_CREATE_TOPIC (17); ``perm`` is PermName bits, ``attributes`` "+k=v,-k"."""

    topic: str
    default_topic: str
    read_queue_nums: int
    write_queue_nums: int
    perm: int
    topic_filter_type: str
    topic_sys_flag: int | None = None
    order: bool = False
    attributes: str | None = None
    force: bool | None = None


@dataclass(slots=True, kw_only=True)
class DeleteTopicRequestHeader(CommandHeader):
    """DELETE_TOPIC_IN_BROKER (215)."""

    topic: str


@dataclass(slots=True, kw_only=True)
class GetTopicStatsInfoRequestHeader(CommandHeader):
    """GET_TOPIC_STATS_INFO (202)."""

    topic: str


@dataclass(slots=True, kw_only=True)
class GetTopicConfigRequestHeader(CommandHeader):
    """GET_TOPIC_CONFIG (351)."""

    topic: str


@dataclass(slots=True, kw_only=True)
class GetAllTopicConfigRequestHeader(CommandHeader):
    """GET_ALL_TOPIC_CONFIG (21); all fields optional (5.x paging)."""

    topic_seq: int | None = None
    data_version: str | None = None
    max_topic_num: int | None = None


@dataclass(slots=True, kw_only=True)
class GetAllTopicConfigResponseHeader(CommandHeader):
    """GET_ALL_TOPIC_CONFIG response (5.x paging)."""

    total_topic_num: int | None = None


@dataclass(slots=True, kw_only=True)
class GetAllSubscriptionGroupConfigRequestHeader(CommandHeader):
    """GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201); all fields optional (5.x paging)."""

    group_seq: int | None = None
    data_version: str | None = None
    max_group_num: int | None = None


@dataclass(slots=True, kw_only=True)
class GetBrokerConfigResponseHeader(CommandHeader):
    """GET_BROKER_CONFIG response: the DataVersion as JSON text."""

    version: str | None = None


@dataclass(slots=True, kw_only=True)
class GetConsumeStatsRequestHeader(CommandHeader):
    """GET_CONSUME_STATS (208); ``topic_list`` is ';'-separated."""

    consumer_group: str
    topic: str | None = None
    topic_list: str | None = None


@dataclass(slots=True, kw_only=True)
class GetConsumerConnectionListRequestHeader(CommandHeader):
    """GET_CONSUMER_CONNECTION_LIST (203)."""

    consumer_group: str


@dataclass(slots=True, kw_only=True)
class GetProducerConnectionListRequestHeader(CommandHeader):
    """GET_PRODUCER_CONNECTION_LIST (204)."""

    producer_group: str


@dataclass(slots=True, kw_only=True)
class GetConsumerRunningInfoRequestHeader(CommandHeader):
    """GET_CONSUMER_RUNNING_INFO (307, relayed by the broker to the client)."""

    consumer_group: str
    client_id: str
    jstack_enable: bool = False


@dataclass(slots=True, kw_only=True)
class ConsumeMessageDirectlyResultRequestHeader(CommandHeader):
    """CONSUME_MESSAGE_DIRECTLY (309, relayed by the broker to the client)."""

    consumer_group: str
    client_id: str | None = None
    msg_id: str | None = None
    broker_name: str | None = None
    topic: str | None = None
    topic_sys_flag: int | None = None
    group_sys_flag: int | None = None


@dataclass(slots=True, kw_only=True)
class ResetOffsetRequestHeader(CommandHeader):
    """INVOKE_BROKER_TO_RESET_OFFSET (222) and RESET_CONSUMER_CLIENT_OFFSET (220).

    ``timestamp`` in ms (-1 = reset to the max offset); ``queue_id`` -1 = every queue.
    """

    group: str
    topic: str
    queue_id: int = -1
    offset: int | None = None
    timestamp: int
    is_force: bool


@dataclass(slots=True, kw_only=True)
class GetConsumerStatusRequestHeader(CommandHeader):
    """INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223) / GET_CONSUMER_STATUS_FROM_CLIENT (221)."""

    topic: str
    group: str
    client_addr: str | None = None


@dataclass(slots=True, kw_only=True)
class DeleteSubscriptionGroupRequestHeader(CommandHeader):
    """DELETE_SUBSCRIPTIONGROUP (207)."""

    group_name: str
    clean_offset: bool = False


@dataclass(slots=True, kw_only=True)
class GetSubscriptionGroupConfigRequestHeader(CommandHeader):
    """GET_SUBSCRIPTIONGROUP_CONFIG (352)."""

    group: str


@dataclass(slots=True, kw_only=True)
class QueryTopicConsumeByWhoRequestHeader(CommandHeader):
    """QUERY_TOPIC_CONSUME_BY_WHO (300)."""

    topic: str


@dataclass(slots=True, kw_only=True)
class QueryTopicsByConsumerRequestHeader(CommandHeader):
    """QUERY_TOPICS_BY_CONSUMER (343)."""

    group: str


@dataclass(slots=True, kw_only=True)
class QuerySubscriptionByConsumerRequestHeader(CommandHeader):
    """QUERY_SUBSCRIPTION_BY_CONSUMER (345)."""

    group: str
    topic: str


@dataclass(slots=True, kw_only=True)
class QueryConsumeTimeSpanRequestHeader(CommandHeader):
    """QUERY_CONSUME_TIME_SPAN (303)."""

    topic: str
    group: str


@dataclass(slots=True, kw_only=True)
class QueryCorrectionOffsetHeader(CommandHeader):
    """QUERY_CORRECTION_OFFSET (308); ``filter_groups`` is comma-separated."""

    filter_groups: str | None = None
    compare_group: str
    topic: str


@dataclass(slots=True, kw_only=True)
class CloneGroupOffsetRequestHeader(CommandHeader):
    """CLONE_GROUP_OFFSET (314)."""

    src_group: str
    dest_group: str
    topic: str | None = None
    offline: bool = False


@dataclass(slots=True, kw_only=True)
class ViewBrokerStatsDataRequestHeader(CommandHeader):
    """VIEW_BROKER_STATS_DATA (315)."""

    stats_name: str
    stats_key: str
