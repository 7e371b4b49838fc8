"""Batched frame bytes are exactly what websockets' own parser expects."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from simulator.wire import encode_frame


def parse(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    parser = Frame.parse(reader.read_exact, mask=False, max_size=None, extensions=[])
    try:
        next(parser)
    except StopIteration as done:
        return done.value
    raise AssertionError("incomplete frame")


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 200_000])
def test_text_frames_of_every_length_class_parse_back(size: int) -> None:
    payload = (b"x" * size)
    frame = parse(encode_frame(payload))
    assert (frame.opcode, frame.fin, bytes(frame.data)) == (Opcode.TEXT, True, payload)


def test_binary_frames_parse_back() -> None:
    frame = parse(encode_frame(b"\x00\xff\xfe", text=False))
    assert (frame.opcode, bytes(frame.data)) == (Opcode.BINARY, b"\x00\xff\xfe")


def test_frames_match_websockets_serialisation() -> None:
    payload = b'{"uid":1001,"params":{"type":"connection","status":1}}'
    assert encode_frame(payload) == Frame(Opcode.TEXT, payload).serialize(mask=False)
