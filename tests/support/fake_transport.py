"""An in-memory asyncio transport for remoting tests: records every write, never blocks."""

from __future__ import annotations

import asyncio
from typing import Any

from rmq_core.remoting.codec import FrameDecoder
from rmq_core.remoting.command import RemotingCommand

__all__ = ["RecordingTransport"]


class RecordingTransport(asyncio.Transport):
    """Records writes (``writes``, one bytes object per ``write`` call); never blocks.

    ``paused`` follows ``pause_reading`` / ``resume_reading``; the peer address is
    ``127.0.0.1:4000``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.paused = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 4000) if name in ("peername", "sockname") else default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Nothing to limit: writes never buffer."""

    def get_write_buffer_size(self) -> int:
        return 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        """Nothing to close."""

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def responses(self) -> list[RemotingCommand]:
        """Every frame written so far, decoded."""
        return FrameDecoder().feed(b"".join(self.writes))
