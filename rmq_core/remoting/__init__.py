"""rmq_core.remoting: RocketMQ's remoting protocol (frames, headers, bodies) and its asyncio
transport. See docs/remoting.md.

Modules: :mod:`~rmq_core.remoting.codes` (request/response codes), :mod:`.command`
(``RemotingCommand``), :mod:`.headers` (typed custom headers), :mod:`.serialization` (JSON and
ROCKETMQ headers), :mod:`.codec` (sans-I/O frames), :mod:`.fastjson` (JSON bodies with Java's
non-string keys), :mod:`.transport` (``Connection``), :mod:`.dispatch` (processor table and
pools), :mod:`.server` (``RemotingServer``), :mod:`.client` (``RemotingClient``).
"""

from rmq_core.remoting.client import RemotingClient
from rmq_core.remoting.codec import DEFAULT_MAX_FRAME_LENGTH, FrameDecoder, encode_frame
from rmq_core.remoting.codes import LanguageCode, RequestCode, ResponseCode, SerializeType
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.dispatch import Processor, ProcessorPool
from rmq_core.remoting.headers import CommandHeader, HeaderFieldError
from rmq_core.remoting.server import RemotingServer
from rmq_core.remoting.transport import Connection

__all__ = [
    "DEFAULT_MAX_FRAME_LENGTH",
    "CommandHeader",
    "Connection",
    "FrameDecoder",
    "HeaderFieldError",
    "LanguageCode",
    "Processor",
    "ProcessorPool",
    "RemotingClient",
    "RemotingCommand",
    "RemotingServer",
    "RequestCode",
    "ResponseCode",
    "SerializeType",
    "encode_frame",
]
