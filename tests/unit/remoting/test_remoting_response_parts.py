"""Responses written as frame head + body: the same bytes as whole frames, one write."""

from __future__ import annotations

import asyncio

import pytest

from rmq_core.remoting.codec import FrameDecoder, encode_frame, encode_frame_head
from rmq_core.remoting.codes import SerializeType
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.transport import Connection
from tests.support.fake_transport import RecordingTransport


@pytest.mark.parametrize("serialize_type", [SerializeType.JSON, SerializeType.ROCKETMQ])
@pytest.mark.parametrize("body", [b"", b"\x00records\xff" * 100])
def test_frame_head_then_body_is_the_frame(serialize_type: SerializeType, body: bytes) -> None:
    cmd = RemotingCommand(code=0, opaque=9, flag=1, ext_fields={"nextBeginOffset": "32"}, body=body)
    cmd.serialize_type = serialize_type
    assert encode_frame_head(cmd) + body == encode_frame(cmd)


def test_responses_with_and_without_bodies_leave_in_one_write_as_whole_frames() -> None:
    async def scenario() -> tuple[list[bytes], list[RemotingCommand]]:
        transport = RecordingTransport()
        conn = Connection(on_request=lambda request, connection: None, name="test")
        conn.connection_made(transport)
        request = RemotingCommand.request(11)
        answers = [
            request.response(0, "FOUND", body=b"first body"),
            request.response(19, "OFFSET_OVERFLOW_ONE"),
            request.response(0, "FOUND", body=b"x" * 40_000),
        ]
        for answer in answers:
            conn.send_response(answer)
        await asyncio.sleep(0)  # the coalesced flush
        return transport.writes, answers

    writes, answers = asyncio.run(scenario())
    assert writes == [b"".join(encode_frame(a) for a in answers)]
    assert FrameDecoder().feed(writes[0]) == answers
