"""rmq_core.common.crc: zlib-ng's CRC-32 where installed, the standard library's otherwise,
with the same values either way (RocketMQ's stored body CRCs depend on it)."""

from __future__ import annotations

import mmap
import random
import subprocess
import sys
import zlib

import pytest

from rmq_core.common.crc import crc32

LENGTHS = [0, 1, 3, 15, 16, 17, 63, 64, 65, 255, 1024, 1025, 4096, 65_537]


@pytest.mark.parametrize("length", LENGTHS)
def test_same_values_as_zlib(length: int) -> None:
    data = random.Random(length).randbytes(length)
    assert crc32(data) == zlib.crc32(data)
    assert crc32(data, 0x1234_5678) == zlib.crc32(data, 0x1234_5678)


def test_chained_calls_equal_one_call_over_the_joined_parts() -> None:
    parts = [b"head", b"x" * 1024, b"\x00\x05Topic", b"\x00\x03k=v"]
    chained = 0
    for part in parts:
        chained = crc32(part, chained)
    assert chained == zlib.crc32(b"".join(parts))


def test_takes_memoryviews_and_mmap_slices() -> None:
    data = random.Random(7).randbytes(5000)
    with mmap.mmap(-1, len(data)) as mm:
        mm[:] = data
        assert crc32(memoryview(mm)[100:1124]) == zlib.crc32(data[100:1124])
        assert crc32(mm[10:20]) == zlib.crc32(data[10:20])


def test_zlib_ng_is_used_when_installed() -> None:
    # a dependency of rmq: the test environment has it
    assert crc32.__module__ == "zlib_ng.zlib_ng"


def test_falls_back_to_the_standard_library_without_zlib_ng() -> None:
    script = (
        "import sys, zlib; sys.modules['zlib_ng'] = None\n"
        "from rmq_core.common.crc import crc32\n"
        "assert crc32 is zlib.crc32, crc32\n"
        "print(crc32(b'123456789'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == 0xCBF43926  # the CRC-32 check value
