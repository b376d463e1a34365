"""``RemotingCommand``: one request or response of the remoting protocol (reference §1.2).

A command is plain data. Turning it into bytes is the job of :mod:`rmq_core.remoting.codec`
(frames) and :mod:`rmq_core.remoting.serialization` (headers); turning ``ext_fields`` into a
typed header is the job of :mod:`rmq_core.remoting.headers`.

Invariants:
- ``ext_fields`` maps wire names to **strings** only (numbers and booleans arriving from a peer
  are turned into strings when the header is decoded);
- ``flag`` bit 0 marks a response, bit 1 a oneway request;
- a response carries the opaque of its request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from rmq_core.remoting.codes import LanguageCode, SerializeType

if TYPE_CHECKING:
    from rmq_core.remoting.headers import CommandHeader

__all__ = ["DEFAULT_VERSION", "FLAG_ONEWAY", "FLAG_RESPONSE", "RemotingCommand"]

FLAG_RESPONSE = 0b01
FLAG_ONEWAY = 0b10

# MQVersion ordinal we announce: V4_9_4 (401). It is high enough for the NameServer to answer
# standard JSON (>= 401) and for Java clients to allow SQL92 subscriptions (>= 232).
DEFAULT_VERSION = 401

H = TypeVar("H", bound="CommandHeader")


@dataclass(slots=True)
class RemotingCommand:
    """A request or response. ``body`` is raw bytes; ``ext_fields`` is the custom header."""

    code: int
    opaque: int = 0
    flag: int = 0
    language: LanguageCode = LanguageCode.JAVA
    version: int = DEFAULT_VERSION
    remark: str | None = None
    ext_fields: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    serialize_type: SerializeType = SerializeType.JSON

    @classmethod
    def request(
        cls,
        code: int,
        header: CommandHeader | None = None,
        body: bytes = b"",
        *,
        oneway: bool = False,
        ext_fields: dict[str, str] | None = None,
    ) -> RemotingCommand:
        """Build a request; the caller (the remoting client) assigns the opaque."""
        fields = header.to_ext_fields() if header is not None else {}
        if ext_fields:
            fields.update(ext_fields)
        return cls(code=code, flag=FLAG_ONEWAY if oneway else 0, ext_fields=fields, body=body)

    def response(
        self,
        code: int,
        remark: str | None = None,
        header: CommandHeader | None = None,
        body: bytes = b"",
        *,
        ext_fields: dict[str, str] | None = None,
    ) -> RemotingCommand:
        """Build the response to this request: same opaque, RESPONSE flag set."""
        fields = header.to_ext_fields() if header is not None else {}
        if ext_fields:
            fields.update(ext_fields)
        return RemotingCommand(
            code=code,
            opaque=self.opaque,
            flag=FLAG_RESPONSE,
            remark=remark,
            ext_fields=fields,
            body=body,
        )

    @property
    def is_response(self) -> bool:
        """True for a response (flag bit 0)."""
        return bool(self.flag & FLAG_RESPONSE)

    @property
    def is_oneway(self) -> bool:
        """True for a request that expects no answer (flag bit 1)."""
        return bool(self.flag & FLAG_ONEWAY)

    def decode_header(self, header_class: type[H]) -> H:
        """Decode ``ext_fields`` into ``header_class``; raises a ``RemoteProtocolError``
        subclass naming the field when a required field is missing or malformed."""
        return header_class.from_ext_fields(self.ext_fields)
