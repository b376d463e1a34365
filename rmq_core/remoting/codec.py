"""Sans-I/O frame codec of the remoting protocol (reference §1.1).

Frame layout, big-endian::

    +------------+-------------------------------+--------------+------------+
    | int LENGTH | int HEADER_INFO               | header bytes | body bytes |
    |            | type << 24 | headerLen & 0xFFFFFF                        |
    +------------+-------------------------------+--------------+------------+

``LENGTH`` counts the bytes after itself: ``4 + headerLen + bodyLen``. The high byte of
``HEADER_INFO`` is the serialize type (0 JSON, 1 ROCKETMQ), the low three bytes the header
length.

:class:`FrameDecoder` never sees a socket or a clock: feed it bytes, get whole commands.
Limits are checked before anything is buffered: as soon as the four LENGTH bytes are known a
frame whose total size (``4 + LENGTH``, Netty's ``frameMaxLength`` semantics) exceeds
``max_frame_length`` raises :class:`~rmq_core.errors.FrameTooLargeError`, and the serialize type
and header length are checked as soon as HEADER_INFO is known. After an error the decoder
stays failed: every later ``feed`` raises the same error (the connection must be closed).
"""

from __future__ import annotations

import struct

from rmq_core.errors import FrameTooLargeError, RemoteProtocolError
from rmq_core.remoting.codes import SerializeType
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.serialization import decode_header, encode_header

__all__ = ["DEFAULT_MAX_FRAME_LENGTH", "FrameDecoder", "encode_frame", "encode_frame_head"]

DEFAULT_MAX_FRAME_LENGTH = 16 * 1024 * 1024
"""Largest accepted frame in bytes, length prefix included (RocketMQ's frameMaxLength)."""

_PREFIX = struct.Struct(">iI")  # LENGTH, HEADER_INFO
_MAX_HEADER_LENGTH = 0xFFFFFF
_KNOWN_TYPES = frozenset(int(t) for t in SerializeType)


def encode_frame(cmd: RemotingCommand) -> bytes:
    """The whole frame of ``cmd``: length prefix, header info, header, body."""
    header = encode_header(cmd)
    if len(header) > _MAX_HEADER_LENGTH:
        raise RemoteProtocolError(f"header of {len(header)} bytes does not fit 24 bits")
    info = (int(cmd.serialize_type) << 24) | len(header)
    body = cmd.body
    return b"".join((_PREFIX.pack(4 + len(header) + len(body), info), header, body))


def encode_frame_head(cmd: RemotingCommand) -> bytes:
    """The frame of ``cmd`` up to its body: length prefix (counting the body), header info,
    header. Written right before ``cmd.body`` it is :func:`encode_frame` of ``cmd``, without
    copying the body into a frame of its own."""
    header = encode_header(cmd)
    if len(header) > _MAX_HEADER_LENGTH:
        raise RemoteProtocolError(f"header of {len(header)} bytes does not fit 24 bits")
    info = (int(cmd.serialize_type) << 24) | len(header)
    return _PREFIX.pack(4 + len(header) + len(cmd.body), info) + header


class FrameDecoder:
    """Incremental decoder: ``feed(data)`` returns the commands completed by ``data``.

    Memory bound: the decoder holds at most one partial frame, and only after its announced
    length passed the limit check.
    """

    __slots__ = ("_buffer", "_error", "_frame_length", "_prefix_checked", "max_frame_length")

    def __init__(self, max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH) -> None:
        if max_frame_length < _PREFIX.size:
            raise ValueError("max_frame_length must be at least 8 bytes")
        self.max_frame_length = max_frame_length
        self._buffer = bytearray()
        self._frame_length = -1  # 4 + LENGTH of the frame being buffered, -1 = unknown
        self._prefix_checked = False  # LENGTH and HEADER_INFO of the current frame validated
        self._error: RemoteProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes of the current partial frame held in memory."""
        return len(self._buffer)

    def feed(self, data: bytes | bytearray | memoryview) -> list[RemotingCommand]:
        """Consume ``data``; return the completed commands in arrival order.

        Raises :class:`RemoteProtocolError` (or :class:`FrameTooLargeError`) on invalid input;
        the commands completed before the bad frame are lost with the connection.
        """
        if self._error is not None:
            raise self._error
        try:
            return self._feed(memoryview(data).cast("B"))
        except RemoteProtocolError as exc:
            self._error = exc
            self._buffer.clear()
            raise

    def _feed(self, view: memoryview) -> list[RemotingCommand]:
        out: list[RemotingCommand] = []
        pos, end = 0, len(view)
        buf = self._buffer
        limit = self.max_frame_length
        unpack_prefix = _PREFIX.unpack_from
        while pos < end:
            if not buf and end - pos >= _PREFIX.size:
                # Fast path: frames lying whole in ``data`` are decoded without copying, their
                # prefix checked inline (any doubt: _check_prefix, which raises the error).
                length, info = unpack_prefix(view, pos)
                total = length + 4
                header_length = info & _MAX_HEADER_LENGTH
                if not (
                    8 <= total <= limit
                    and info >> 24 in _KNOWN_TYPES
                    and header_length <= length - 4
                ):
                    total = self._check_prefix(view, pos)
                if end - pos >= total:
                    header_end = pos + 8 + header_length
                    cmd = decode_header(view[pos + 8 : header_end], info >> 24)
                    pos += total
                    cmd.body = bytes(view[header_end:pos])
                    out.append(cmd)
                    continue
                self._frame_length = total
                self._prefix_checked = True
            need = self._needed()
            take = min(need - len(buf), end - pos)
            buf += view[pos : pos + take]
            pos += take
            if len(buf) < need:
                break
            if self._frame_length < 0:
                length = int.from_bytes(buf[:4], "big", signed=True)
                self._frame_length = self._validate_length(length)
            elif not self._prefix_checked:
                self._check_prefix(buf, 0)
                self._prefix_checked = True
            if self._prefix_checked and len(buf) == self._frame_length:
                out.append(_decode_frame(memoryview(bytes(buf))))
                buf.clear()
                self._frame_length = -1
                self._prefix_checked = False
        return out

    def _needed(self) -> int:
        """Size the buffer must reach for the next check: LENGTH, the prefix, the frame."""
        if self._frame_length < 0:
            return 4
        if not self._prefix_checked:
            return _PREFIX.size
        return self._frame_length

    def _validate_length(self, length: int) -> int:
        if length < 4:
            raise RemoteProtocolError(f"frame length {length} is below the 4-byte minimum")
        total = length + 4
        if total > self.max_frame_length:
            raise FrameTooLargeError(
                f"frame of {total} bytes exceeds the limit of {self.max_frame_length} bytes"
            )
        return total

    def _check_prefix(self, data: memoryview | bytearray, pos: int) -> int:
        length, info = _PREFIX.unpack_from(data, pos)
        total = self._validate_length(length)
        serialize_type, header_length = info >> 24, info & _MAX_HEADER_LENGTH
        if serialize_type not in _KNOWN_TYPES:
            raise RemoteProtocolError(f"unknown serialize type {serialize_type}")
        if header_length > length - 4:
            raise RemoteProtocolError(
                f"header length {header_length} exceeds the frame length {length}"
            )
        return total


def _decode_frame(frame: memoryview) -> RemotingCommand:
    """Decode one whole, prefix-checked frame (length prefix included)."""
    info = int.from_bytes(frame[4:8], "big")
    header_end = 8 + (info & _MAX_HEADER_LENGTH)
    cmd = decode_header(frame[8:header_end], info >> 24)
    cmd.body = bytes(frame[header_end:])
    return cmd
