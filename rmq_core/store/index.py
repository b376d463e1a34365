"""``IndexFile`` and ``IndexService``: look messages up by ``topic#key`` (reference §5.4).

Layout: :mod:`rmq_core.store.formats.index`. Keys indexed per record: UNIQ_KEY and every
non-empty token of KEYS; ROLLBACK records are skipped. Entries are appended in commit-log
order, so entry phyOffsets never decrease within or across files; re-dispatched records at or
below the newest file's ``endPhyOffset`` are skipped.

Writes go entry, slot, then the header once per batch of entries: a crash in between leaves
entries past ``indexCount`` and slots pointing at them, which loading the newest file repairs
(:meth:`IndexFile.repair_unfinished_put`: slots go back along each entry's chain, the entries
are zeroed, and the dispatcher writes them again). Index files are derived data: a file that is
damaged or of the wrong size is deleted and rebuilt by the dispatcher.
"""

from __future__ import annotations

import itertools
import logging
import operator
import os
import struct
import time
from collections.abc import Callable, Sequence

from rmq_core.common.message import MessageSysFlag
from rmq_core.common.message_codec import java_string_hash
from rmq_core.store.commitlog import DispatchRequest, prop_value
from rmq_core.store.formats.index import ENTRY, HEADER, SLOT, file_size
from rmq_core.store.mapped_file import MappedFile
from rmq_core.store.report import RecoveryReport

__all__ = ["IndexFile", "IndexService", "key_hash"]

log = logging.getLogger(__name__)

_INT_MAX = 0x7FFFFFFF
_POW31 = [1]
for _ in range(4096):
    _POW31.append((_POW31[-1] * 31) & 0xFFFFFFFF)
_POW31_DESC: dict[int, tuple[int, ...]] = {}
_TOPIC_PREFIX_LIMIT = 100_000
"""Most topics whose ``topic#`` hash :class:`IndexService` keeps (cleared when reached)."""
_SLOTS_AT = HEADER.size
_unpack_slot = SLOT.unpack_from
_pack_slot = SLOT.pack_into
_pack_entry = ENTRY.pack_into
_pack_header = HEADER.pack_into
_SLOT_SIZE = SLOT.size
_ENTRY_SIZE = ENTRY.size
_HEAD_CACHE_LIMIT = 4096
"""Most key heads (all but the last four characters) whose hash is kept (cleared when
reached)."""


_POW31_4 = 923521
"""31^4: Java's hash of a string is its head's hash times 31^4 plus its last four characters'
share (mod 2^32)."""


def _tail_share(tail: bytes) -> int:
    """The share of four ASCII characters in a Java string hash: c0*31^3 + c1*31^2 + c2*31 + c3
    (not reduced mod 2^32)."""
    a, b, c, d = tail
    return a * 29791 + b * 961 + c * 31 + d


def _abs_java_hash(u32: int) -> int:
    """abs() of a Java int hash given as unsigned 32 bits, with Integer.MIN_VALUE as 0 (the
    hash RocketMQ's index stores)."""
    return 0x100000000 - u32 if u32 > 0x80000000 else u32 & 0x7FFFFFFF


_TRANSACTION_TYPE_MASK = MessageSysFlag.TRANSACTION_TYPE_MASK
_ROLLBACK = MessageSysFlag.TRANSACTION_ROLLBACK_TYPE
_UNIFORM_MIN = 8
"""Fewest records a batch needs for :meth:`IndexService.batch_entries` to try hashing its keys
all at once (:func:`_lane_hashes`); below it the per-record loop is cheaper."""
_EARLY_REJECT_MIN = 32
"""Fewest records for which :meth:`IndexService._uniform_hashes` compares two strings before
the whole batch (~150 ns): it saves ~3.5 us on a 64-record batch that differs outside the key
tails, and costs a uniform batch of 8-16 records ~1-2 %."""
_LANE = 8
"""Bytes per record in the integers of :func:`_lane_hashes`: 64-bit lanes, and a lane's sum
stays below 2^33, so no carry crosses into the next lane."""
_LANE_CONSTANTS: dict[int, tuple[int, int, int, Callable[[bytes], tuple[int, ...]]]] = {}
_LANE_CONSTANTS_LIMIT = 256
"""Most record counts whose lane constants are kept (cleared when reached)."""


def _lane_constants(count: int) -> tuple[int, int, int, Callable[[bytes], tuple[int, ...]]]:
    """For ``count`` lanes: 1 in every lane, 2^32 - 1 in every lane, 2^31 - 1 in every lane, and
    the unpacker of the lanes' bytes (cached per count, bounded)."""
    constants = _LANE_CONSTANTS.get(count)
    if constants is None:
        ones = int.from_bytes((b"\x00" * (_LANE - 1) + b"\x01") * count, "big")
        constants = (ones, ones * 0xFFFFFFFF, ones * _INT_MAX, struct.Struct(f">{count}Q").unpack)
        if len(_LANE_CONSTANTS) >= _LANE_CONSTANTS_LIMIT:
            _LANE_CONSTANTS.clear()
        _LANE_CONSTANTS[count] = constants
    return constants


def _lanes(column: bytes) -> int:
    """``column`` as one integer with a 64-bit lane per byte, the first byte in the most
    significant lane."""
    spread = bytearray(_LANE * len(column))
    spread[_LANE - 1 :: _LANE] = column
    return int.from_bytes(spread, "big")


def _lane_hashes(a: bytes, b: bytes, c: bytes, d: bytes, shifted: int) -> tuple[int, ...]:
    """``_abs_java_hash((shifted + _tail_share(tail)) mod 2^32)`` of every key tail ``a[i] b[i]
    c[i] d[i]`` (ASCII bytes, equal-length columns), for all tails at once: each tail's sum in
    its own 64-bit lane of a Python int, so a few big-int operations replace a Python loop of
    ten per record. A lane whose hash has bit 31 set (a negative Java int) is negated in two's
    complement (``x ^ (2^32 - 1) + 1``); the final mask maps Integer.MIN_VALUE to 0."""
    ones, low32, low31, unpack = _lane_constants(len(a))
    sums = _lanes(a) * 29791 + _lanes(b) * 961 + _lanes(c) * 31 + _lanes(d)
    hashes = (sums + (shifted & 0xFFFFFFFF) * ones) & low32
    negative = (hashes >> 31) & ones
    hashes = ((hashes ^ ((negative << 32) - negative)) + negative) & low31
    return unpack(hashes.to_bytes(_LANE * len(a), "big"))


def _powers_desc(n: int) -> tuple[int, ...]:
    """(31^(n-1), ..., 31, 1) mod 2^32, cached per length."""
    powers = _POW31_DESC.get(n)
    if powers is None:
        powers = tuple(reversed(_POW31[:n]))
        if len(_POW31_DESC) < 512:
            _POW31_DESC[n] = powers
    return powers


def key_hash(topic: str, key: str) -> int:
    """abs(Java hashCode of ``topic#key``) as RocketMQ indexes it (0 for INT_MIN)."""
    h = java_string_hash(topic + "#" + key)
    return 0 if h == -(2**31) else abs(h)


class IndexFile:
    """One index file; header fields are mirrored in attributes and written after each put."""

    def __init__(self, path: str, slot_num: int, max_index: int, *, create: bool) -> None:
        self.path = path
        self.name = os.path.basename(path)
        self.slot_num = slot_num
        self.max_index = max_index
        self.mapped = MappedFile(path, file_size(slot_num, max_index), 0, create=create)
        self.mapped.wrote_position = self.mapped.file_size
        self._entries_at = HEADER.size + slot_num * SLOT.size
        self.dirty = False
        if create:
            self.begin_ts = self.end_ts = self.begin_phy = self.end_phy = 0
            self.slot_count, self.index_count = 0, 1
            self._write_header()
        else:
            (self.begin_ts, self.end_ts, self.begin_phy, self.end_phy, self.slot_count,
             self.index_count) = HEADER.unpack_from(self.mapped.mm, 0)  # fmt: skip

    def header_problem(self) -> str | None:
        """Why the header cannot be trusted, or None."""
        if not 1 <= self.index_count <= self.max_index:
            return f"indexCount {self.index_count} out of range"
        if self.index_count > 1 and (self.end_phy < self.begin_phy or self.begin_phy < 0):
            return "phy offsets out of order"
        return None

    @property
    def is_full(self) -> bool:
        """True when no entry can be added."""
        return self.index_count >= self.max_index

    @property
    def has_entries(self) -> bool:
        """True once an entry was written."""
        return self.index_count > 1

    def _write_header(self) -> None:
        HEADER.pack_into(self.mapped.mm, 0, self.begin_ts, self.end_ts, self.begin_phy,
                         self.end_phy, self.slot_count, self.index_count)  # fmt: skip
        self.dirty = True

    def _entry(self, n: int) -> tuple[int, int, int, int]:
        k, phys, diff, prev = ENTRY.unpack_from(self.mapped.mm, self._entries_at + n * ENTRY.size)
        return k, phys, diff, prev

    def put(self, hashed: int, phys: int, store_ts: int) -> bool:
        """Add an entry; False when the file is full. Writes entry, slot, then header; the
        in-memory ``index_count`` advances between entry and slot (as in :meth:`put_many`)."""
        n = self.index_count
        if n >= self.max_index:
            return False
        mm = self.mapped.mm
        slot_pos = _SLOTS_AT + (hashed % self.slot_num) * _SLOT_SIZE
        head = _unpack_slot(mm, slot_pos)[0]
        if head <= 0 or head >= n:
            head = 0
            self.slot_count += 1
        if n == 1:  # the first entry
            self.begin_ts, self.begin_phy = store_ts, phys
        diff = (store_ts - self.begin_ts) // 1000
        if diff < 0:
            diff = 0
        elif diff > _INT_MAX:
            diff = _INT_MAX
        _pack_entry(mm, self._entries_at + n * _ENTRY_SIZE, hashed, phys, diff, head)
        self.index_count = n + 1
        _pack_slot(mm, slot_pos, n)
        self.end_ts, self.end_phy = store_ts, phys
        _pack_header(mm, 0, self.begin_ts, store_ts, self.begin_phy, phys, self.slot_count, n + 1)
        self.dirty = True
        return True

    def put_many(self, items: Sequence[tuple[int, int]], store_ts: int) -> int:
        """Add ``(hash, phys)`` entries of records stored at ``store_ts`` (ms) until the file
        is full; return how many were added. Each entry is written before its slot, the
        header once after them: a crash in between leaves slots pointing at entries at or
        past ``indexCount``, which :meth:`put` and :meth:`select` treat as empty. The in-memory
        ``index_count`` advances per entry (after the entry, before its slot), so a
        :meth:`select` on another thread meanwhile finds every entry a slot names."""
        n = self.index_count
        room = self.max_index - n
        if room <= 0 or not items:
            return 0
        taken = items if len(items) <= room else items[:room]
        if n == 1:  # the first entry
            self.begin_ts, self.begin_phy = store_ts, taken[0][1]
        diff = (store_ts - self.begin_ts) // 1000
        if diff < 0:
            diff = 0
        elif diff > _INT_MAX:
            diff = _INT_MAX
        mm = self.mapped.mm
        slot_num = self.slot_num
        entry_pos = self._entries_at + n * _ENTRY_SIZE
        new_slots = 0
        for hashed, phys in taken:
            slot_pos = _SLOTS_AT + (hashed % slot_num) * _SLOT_SIZE
            head = _unpack_slot(mm, slot_pos)[0]
            if head <= 0 or head >= n:
                head = 0
                new_slots += 1
            _pack_entry(mm, entry_pos, hashed, phys, diff, head)
            self.index_count = n + 1
            _pack_slot(mm, slot_pos, n)
            n += 1
            entry_pos += _ENTRY_SIZE
        last_phys = taken[-1][1]
        self.slot_count += new_slots
        self.end_ts, self.end_phy = store_ts, last_phys
        _pack_header(mm, 0, self.begin_ts, store_ts, self.begin_phy, last_phys, self.slot_count, n)
        self.dirty = True
        return len(taken)

    def select(self, hashed: int, begin_ms: int, end_ms: int, max_num: int, out: list[int]) -> None:
        """Append to ``out`` the phy offsets of entries with ``hashed`` stored in the window."""
        n = SLOT.unpack_from(self.mapped.mm, HEADER.size + (hashed % self.slot_num) * SLOT.size)[0]
        while 0 < n < self.index_count and len(out) < max_num:
            k, phys, diff, prev = self._entry(n)
            ts = self.begin_ts + diff * 1000
            if ts < begin_ms - 999:
                break
            if k == hashed and begin_ms - 999 <= ts <= end_ms:
                out.append(phys)
            if prev >= n:
                break
            n = prev

    def time_matches(self, begin_ms: int, end_ms: int) -> bool:
        """True when the file's time span overlaps [begin_ms, end_ms]."""
        return self.has_entries and self.begin_ts <= end_ms + 999 and self.end_ts >= begin_ms - 999

    def truncate(self, phy_end: int, timestamp_at: Callable[[int], int | None]) -> int:
        """Drop entries of records at or past ``phy_end``; repair slots; return entries dropped."""
        lo, hi = 1, self.index_count
        while lo < hi:  # first entry with phys >= phy_end
            mid = (lo + hi) // 2
            if self._entry(mid)[1] >= phy_end:
                hi = mid
            else:
                lo = mid + 1
        cut = lo
        dropped = self.index_count - cut
        self._drop_entries_from(cut)
        self.index_count = cut
        if cut > 1:
            self.end_phy = self._entry(cut - 1)[1]
            ts = timestamp_at(self.end_phy)
            self.end_ts = ts if ts is not None else self.begin_ts + self._entry(cut - 1)[2] * 1000
        else:
            self.begin_ts = self.end_ts = self.begin_phy = self.end_phy = 0
        self._write_header()
        return dropped

    def _written_end(self) -> int:
        """Entry number just past the entries actually written: ``indexCount``, or further when
        a crash stopped :meth:`put_many` between its entries and its header (its entries are
        non-zero)."""
        n = self.index_count
        zero = bytes(_ENTRY_SIZE)
        mm = self.mapped.mm
        while n < self.max_index:
            at = self._entries_at + n * _ENTRY_SIZE
            if mm[at : at + _ENTRY_SIZE] == zero:
                break
            n += 1
        return n

    def _drop_entries_from(self, cut: int) -> None:
        """Zero the entries from ``cut`` on (to :meth:`_written_end`) and point every slot that
        named one of them back at the newest entry below ``cut`` of its chain."""
        mm = self.mapped.mm
        end = self._written_end()
        for n in range(cut, end):
            hashed = self._entry(n)[0]
            slot_pos = HEADER.size + (hashed % self.slot_num) * SLOT.size
            head = SLOT.unpack_from(mm, slot_pos)[0]
            if head < cut:
                continue
            while head >= cut:
                prev = self._entry(head)[3] if head < self.max_index else 0
                head = prev if 0 <= prev < head else 0
            SLOT.pack_into(mm, slot_pos, head)
            if head == 0:
                self.slot_count = max(self.slot_count - 1, 0)
        start = self._entries_at + cut * ENTRY.size
        stop = self._entries_at + end * ENTRY.size
        if stop > start:
            mm[start:stop] = bytes(stop - start)
            self.dirty = True

    def repair_unfinished_put(self) -> int:
        """After a crash between :meth:`put_many`'s entries and its header: drop the entries
        past ``indexCount`` and repair their slots (the dispatcher writes them again); return
        how many were dropped."""
        dropped = self._written_end() - self.index_count
        if dropped:
            self._drop_entries_from(self.index_count)
            self._write_header()
        return dropped

    def flush(self) -> None:
        """fdatasync the file if it changed."""
        if self.dirty:
            self.dirty = False
            os.fdatasync(self.mapped.fd)

    def destroy(self) -> bool:
        """Delete the file (False while a reader holds it)."""
        return self.mapped.destroy()


class IndexService:
    """The index files of a store, newest last."""

    def __init__(self, directory: str, slot_num: int, max_index: int, enabled: bool = True):
        self.directory = directory
        self.slot_num = slot_num
        self.max_index = max_index
        self.enabled = enabled
        self.files: list[IndexFile] = []
        self.pending_destroy: list[IndexFile] = []
        self._topic_prefix: dict[str, tuple[int, int]] = {}
        self._heads: dict[tuple[str, str], int] = {}
        self._byte_heads: dict[str, dict[bytes, int]] = {}
        self._last_key: tuple[str, bytes, int] = ("", b"", 0)
        """Topic, properties bytes up to the key's last four characters, and the key head's
        hash * 31^4, of the last string :meth:`record_entries` hashed by a search (empty
        bytes: none yet)."""

    def load(self, report: RecoveryReport) -> None:
        """Open every index file; damaged or wrongly sized ones are deleted (derived data)."""
        os.makedirs(self.directory, exist_ok=True)
        expected = file_size(self.slot_num, self.max_index)
        files: list[IndexFile] = []
        for name in sorted(os.listdir(self.directory)):
            path = os.path.join(self.directory, name)
            if len(name) != 17 or not name.isdigit() or not os.path.isfile(path):
                report.unknown(path)
                continue
            size = os.path.getsize(path)
            if size != expected:
                report.drop("index", path, 0, size, f"size {size}, expected {expected}; rebuilt")
                os.unlink(path)
                continue
            index_file = IndexFile(path, self.slot_num, self.max_index, create=False)
            problem = index_file.header_problem()
            if problem is not None:
                index_file.mapped.try_close()
                report.drop("index", path, 0, size, f"{problem}; rebuilt")
                os.unlink(path)
                continue
            files.append(index_file)
        if files:
            dropped = files[-1].repair_unfinished_put()
            if dropped:
                report.index_entries_dropped += dropped
                report.note(f"index {files[-1].name}: {dropped} entries past its header dropped")
        self.files = files

    @property
    def indexed_up_to(self) -> int:
        """Commit-log offset of the newest indexed record (-1 if none)."""
        for index_file in reversed(self.files):
            if index_file.has_entries:
                return index_file.end_phy
        return -1

    def _hash(self, topic: str, key: str) -> int:
        """abs(Java hashCode of ``topic#key``), as :func:`key_hash`.

        Java's hash of ``topic#key`` is hash(``topic#`` + head) * 31^4 + the last four
        characters' share (mod 2^32). A producer's unique keys differ only in their last
        characters (client prefix, then time, then a counter), so the head's hash is cached
        (bounded) and each key costs four multiplications.
        """
        if len(key) > 4 and key.isascii():
            head = (topic, key[:-4])
            base = self._heads.get(head)
            if base is None:
                base = self._hash_u32(topic, head[1])
                if len(self._heads) >= _HEAD_CACHE_LIMIT:
                    self._heads.clear()
                self._heads[head] = base
            h = (base * _POW31_4 + _tail_share(key[-4:].encode())) & 0xFFFFFFFF
        else:
            h = self._hash_u32(topic, key)
        return _abs_java_hash(h)

    def _hash_u32(self, topic: str, key: str) -> int:
        """Java hashCode of ``topic#key`` as an unsigned 32-bit value."""
        # Java hash of topic#key = hash(topic#) * 31^len(key) + hash(key) (mod 2^32).
        prefix = self._topic_prefix.get(topic)
        if prefix is None:
            prefix = (java_string_hash(topic + "#") & 0xFFFFFFFF, 0)
            if len(self._topic_prefix) >= _TOPIC_PREFIX_LIMIT:
                self._topic_prefix.clear()  # bounded: a cache, however many topics come and go
            self._topic_prefix[topic] = prefix
        if not key.isascii() or len(key) >= len(_POW31):
            return java_string_hash(topic + "#" + key) & 0xFFFFFFFF
        data = key.encode()
        n = len(data)
        h: int = prefix[0] * _POW31[n] + sum(map(operator.mul, data, _powers_desc(n)))
        return h & 0xFFFFFFFF

    def _head_hash(self, topic: str, head: bytes) -> int:
        """Java hashCode of ``topic#`` + an ASCII key head, unsigned: looked up in, else added
        to, the topic's cache of head hashes (each topic's cache is bounded)."""
        heads = self._byte_heads.get(topic)
        if heads is not None:
            base = heads.get(head)
            if base is not None:
                return base
        if heads is None or len(heads) >= _HEAD_CACHE_LIMIT:
            if len(self._byte_heads) >= _TOPIC_PREFIX_LIMIT:
                self._byte_heads.clear()
            heads = self._byte_heads[topic] = {}
        base = heads[head] = self._hash_u32(topic, head.decode())
        return base

    def batch_entries(
        self,
        topic: str,
        phys: int,
        sizes: Sequence[int],
        props: Sequence[bytes],
        sys_flag: int,
        joined: bytes | None = None,
    ) -> list[tuple[int, int]]:
        """The ``(hash, phys)`` entries of consecutive records (the first at commit-log offset
        ``phys``, one size and raw properties string each; ``joined``: their concatenation, if
        the caller has it), in the order :meth:`build_index` writes them: UNIQ_KEY, then each
        KEYS token, record by record. Empty when indexing is off or the records are ROLLBACK;
        records already indexed are left out. A property given twice counts by its last
        non-empty value, as Java's ``string2messageProperties`` map (and
        :func:`~rmq_core.store.commitlog.prop_value`) has it.

        The usual UNIQ_KEY (ASCII, longer than 4) is hashed here from its bytes as
        :meth:`_hash` does: the cached hash of ``topic#`` + all but its last four characters,
        times 31^4, plus those four's :func:`_tail_share` (not cached: a producer's keys end in a
        counter, so a tail comes back only after 65,536 keys). A key with the
        previous key's head (same length and leading bytes) reuses that head's hash.

        Which path: records that differ only in the key's last four characters are hashed all
        at once (:meth:`_uniform_hashes`); otherwise the record loop (:meth:`_loop_entries`)
        takes the first UNIQ_KEY it finds in each string, which is the one Java keeps when the
        batch holds one ``UNIQ_KEY\x01`` per string (checked by one count of the joined batch);
        anything else (a property given twice, records already indexed) by
        :meth:`_searched_entries`.
        """
        if not self.enabled or sys_flag & _TRANSACTION_TYPE_MASK == _ROLLBACK:
            return []
        files = self.files
        indexed = files[-1].end_phy if files and files[-1].has_entries else -1
        if phys <= indexed:  # a re-dispatch (after a restart): rare
            return self._searched_entries(topic, phys, sizes, props, indexed)
        count = len(props)
        if joined is None:
            joined = props[0] if count == 1 else b"".join(props)
        if count >= _UNIFORM_MIN:
            hashes = self._uniform_hashes(topic, props, joined)
            if hashes is not None:
                return list(
                    zip(hashes, itertools.accumulate(sizes[:-1], initial=phys), strict=True)
                )
        if joined.count(b"KEY") == count:  # with a UNIQ_KEY each: no KEYS, none twice
            entries, missing = self._loop_entries(topic, phys, sizes, props, False)
            if not missing:
                return entries
        else:
            with_keys = joined.find(b"KEYS\x01") >= 0  # find: faster than `in` on 3.11
            entries, missing = self._loop_entries(topic, phys, sizes, props, with_keys)
            if joined.count(b"UNIQ_KEY\x01") == count - missing:  # none given twice
                return entries
        return self._searched_entries(topic, phys, sizes, props, indexed)

    def _loop_entries(
        self, topic: str, phys: int, sizes: Sequence[int], props: Sequence[bytes], with_keys: bool
    ) -> tuple[list[tuple[int, int]], int]:
        """:meth:`batch_entries` of records none of which is indexed yet, record by record,
        each string's UNIQ_KEY taken where it is first found (at the previous string's place
        when it is there), KEYS looked up only ``with_keys``; and how many strings hold no
        ``UNIQ_KEY\x01`` at the start or after a separator. The caller checks the entries
        hold (no property given twice) before using them."""
        entries: list[tuple[int, int]] = []
        add = entries.append
        heads = self._byte_heads.get(topic) or {}  # looked up inline: a call per record costs
        at = 0  # where the previous string's UNIQ_KEY separator was: usually the same (>= 0)
        head, head_end, shifted = b"", 0, 0  # the previous ASCII key's head, length, hash * 31^4
        missing = 0
        for size, raw in zip(sizes, props):  # noqa: B905 (equal by construction; see commitlog)
            if raw.startswith(b"\x02UNIQ_KEY\x01", at):
                start = at + 10
            elif raw.startswith(b"UNIQ_KEY\x01"):
                start = 9
            else:
                found = raw.find(b"\x02UNIQ_KEY\x01")
                start = found + 10 if found >= 0 else -1
                missing += found < 0
            end = raw.find(b"\x02", start) if start > 0 else -1
            if end > start:
                if start > 9:  # after a separator (9: the string starts with UNIQ_KEY)
                    at = start - 10
                if end - start == head_end and raw.startswith(head, start):
                    tail = raw[end - 4 : end]  # same head as the previous key: its hash known
                else:
                    uniq = raw[start:end]
                    head_end, tail = 0, b""
                    if end - start > 4 and uniq.isascii():
                        head, head_end, tail = uniq[:-4], end - start, uniq[-4:]
                        base = heads.get(head)
                        if base is None:
                            base = self._head_hash(topic, head)
                            heads = self._byte_heads[topic]
                        shifted = base * _POW31_4
                if head_end and tail.isascii():
                    a, b, c, d = tail  # _tail_share and _abs_java_hash inlined (~25 % of it)
                    h = (shifted + a * 29791 + b * 961 + c * 31 + d) & 0xFFFFFFFF
                    add((0x100000000 - h if h > 0x80000000 else h & 0x7FFFFFFF, phys))
                else:
                    add((self._hash(topic, raw[start:end].decode("utf-8", "replace")), phys))
            if with_keys:
                self._add_keys(topic, raw, phys, add)
            phys += size
        return entries, missing

    def _searched_entries(
        self, topic: str, phys: int, sizes: Sequence[int], props: Sequence[bytes], indexed: int
    ) -> list[tuple[int, int]]:
        """:meth:`batch_entries` by :func:`~rmq_core.store.commitlog.prop_value` per record
        (each property's last non-empty value), records at or below commit-log offset
        ``indexed`` left out: the general path, for what the others do not take."""
        entries: list[tuple[int, int]] = []
        add = entries.append
        for size, raw in zip(sizes, props, strict=True):
            if phys > indexed:
                uniq = prop_value(raw, b"UNIQ_KEY\x01")
                if uniq is not None:
                    add((self._hash(topic, uniq.decode("utf-8", "replace")), phys))
                self._add_keys(topic, raw, phys, add)
            phys += size
        return entries

    def _add_keys(
        self, topic: str, raw: bytes, phys: int, add: Callable[[tuple[int, int]], None]
    ) -> None:
        """``add`` the entry of each non-empty token of the KEYS property of ``raw``."""
        keys = prop_value(raw, b"KEYS\x01")
        for key in keys.decode("utf-8", "replace").split(" ") if keys else ():
            if key:
                add((self._hash(topic, key), phys))

    def _uniform_hashes(
        self, topic: str, props: Sequence[bytes], joined: bytes
    ) -> tuple[int, ...] | None:
        """The UNIQ_KEY hashes of records whose properties strings (``joined`` is their
        concatenation) equal the first one's but for the key's last four characters (ASCII, no
        separator), with no KEYS and no second UNIQ_KEY: the loop of :meth:`batch_entries`
        finds each key at the first one's place, so its hash is the head's cached hash times
        31^4 plus the tail's share, computed for all records at once by :func:`_lane_hashes`.
        None for any other batch (no usual UNIQ_KEY in the first record, or records that
        differ elsewhere).

        Rejected early (before the whole-batch comparison): keys whose heads differ (one
        column), and, from :data:`_EARLY_REJECT_MIN` records on, a first string whose bytes
        from its key's end to the next key's tail differ from the second's (a per-record TAGS
        or sequence property; one comparison). Every property (``KEYS\x01``, a
        second ``\x02UNIQ_KEY\x01``) starts after a separator, so none overlaps the key and
        the first string answers for all."""
        first = props[0]
        size = len(first)
        if first.startswith(b"UNIQ_KEY\x01"):
            start = 9
        else:
            found = first.find(b"\x02UNIQ_KEY\x01")
            if found < 0:
                return None
            start = found + 10
        end = first.find(b"\x02", start)
        tail_at = end - 4
        if tail_at <= start:
            return None
        count = len(props)
        if joined[tail_at - 1 :: size] != first[tail_at - 1 : tail_at] * count:
            return None  # cheap early answer: keys whose heads differ (a new millisecond)
        if count >= _EARLY_REJECT_MIN and not joined.startswith(
            joined[end : size + tail_at], size + end
        ):
            return None  # cheap early answer: strings 0-2 differ outside the key's tail
        if first.find(b"KEY", end) >= 0 or first.find(b"KEYS\x01", 0, start) >= 0:
            return None  # a KEYS property, or UNIQ_KEY twice
        if len(set(map(len, props))) != 1:
            return None
        head = first[start:tail_at]
        a, b, c, d = (joined[tail_at::size], joined[tail_at + 1 :: size],
                      joined[tail_at + 2 :: size], joined[end - 1 :: size])  # fmt: skip
        tails = a + b + c + d
        if not head.isascii() or not tails.isascii() or tails.find(b"\x02") >= 0:
            return None
        expected = bytearray(first * count)
        expected[tail_at::size], expected[tail_at + 1 :: size] = a, b
        expected[tail_at + 2 :: size], expected[end - 1 :: size] = c, d
        if expected != joined:
            return None
        return _lane_hashes(a, b, c, d, self._head_hash(topic, head) * _POW31_4)

    def record_entries(
        self, topic: str, phys: int, size: int, raw: bytes, sys_flag: int
    ) -> list[tuple[int, int]]:
        """:meth:`batch_entries` of one record (commit-log offset ``phys``, ``size`` bytes,
        raw properties ``raw``): the usual record (an ASCII UNIQ_KEY longer than 4 characters,
        no KEYS) hashed here without the batch loop, any other through :meth:`batch_entries`.
        Same entries either way.

        A string that starts like the last one hashed here, up to its key's last four
        characters (a producer's next key, same topic), has its key at the same place: only
        the tail is checked (ASCII, then the separator) and ``KEY`` looked for from the head's
        last four bytes on (a KEYS property, or a later UNIQ_KEY that would count instead: an
        earlier KEYS would have been in the last string, which the search checked)."""
        last_topic, before, shifted = self._last_key
        tail_at = len(before)
        if (
            tail_at
            and raw.startswith(before)
            and raw.find(b"\x02", tail_at) == tail_at + 4
            and raw.find(b"KEY", tail_at - 4) < 0  # KEYS or a second UNIQ_KEY
            and topic == last_topic
        ):
            tail = raw[tail_at : tail_at + 4]
            if not tail.isascii():
                return self.batch_entries(topic, phys, (size,), (raw,), sys_flag)
        else:
            at = raw.rfind(b"UNIQ_KEY\x01")  # the last one: Java keeps the last value
            if at < 0 or (at and raw[at - 1] != 2) or raw.find(b"KEYS\x01") >= 0:
                return self.batch_entries(topic, phys, (size,), (raw,), sys_flag)
            start = at + 9
            end = raw.find(b"\x02", start)
            key = raw[start:end]
            if end - start <= 4 or not key.isascii():
                return self.batch_entries(topic, phys, (size,), (raw,), sys_flag)
            head, tail = key[:-4], key[-4:]
            heads = self._byte_heads.get(topic)  # inline: a _head_hash call costs ~40 ns here
            base = heads.get(head) if heads else None
            if base is None:
                base = self._head_hash(topic, head)
            shifted = base * _POW31_4
            self._last_key = (topic, raw[: end - 4], shifted)
        if not self.enabled or sys_flag & _TRANSACTION_TYPE_MASK == _ROLLBACK:
            return []
        files = self.files
        if files and files[-1].index_count > 1 and phys <= files[-1].end_phy:
            return []
        a, b, c, d = tail  # _tail_share and _abs_java_hash inlined, as in batch_entries
        h = (shifted + a * 29791 + b * 961 + c * 31 + d) & 0xFFFFFFFF
        return [(0x100000000 - h if h > 0x80000000 else h & 0x7FFFFFFF, phys)]

    def has_room(self, count: int) -> bool:
        """True when the newest file can take ``count`` more entries (False without a
        file)."""
        files = self.files
        return bool(files) and files[-1].max_index - files[-1].index_count >= count

    def put_entries(self, entries: Sequence[tuple[int, int]], store_ts: int) -> None:
        """Write :meth:`batch_entries` of records stored at ``store_ts`` (ms), creating files
        as the newest fills (a single entry by :meth:`IndexFile.put`: same bytes)."""
        files = self.files
        if len(entries) == 1 and files:
            hashed, phys = entries[0]
            if files[-1].put(hashed, phys, store_ts):
                return
        done = files[-1].put_many(entries, store_ts) if files else 0
        while done < len(entries):
            done += self._new_file().put_many(entries[done:], store_ts)

    def needs_new_file(self, req: DispatchRequest) -> bool:
        """True when :meth:`build_index` of ``req`` would create an index file."""
        files = self.files
        room = 0
        if files:
            last = files[-1]
            room = last.max_index - last.index_count
            if room > 2 + len(req.keys or "") // 2:  # more than a record can have: cheap answer
                return False
            if last.has_entries and req.commitlog_offset <= last.end_phy:
                return False
        if not self.enabled or _is_rollback(req):
            return False
        return len(_keys_of(req)) > room

    def build_index(self, req: DispatchRequest) -> None:
        """Index the keys of one dispatched record."""
        if not self.enabled or _is_rollback(req):
            return
        last = self.files[-1] if self.files else None
        if last is not None and last.has_entries and req.commitlog_offset <= last.end_phy:
            return
        for key in _keys_of(req):
            hashed = self._hash(req.topic, key)
            if last is None or not last.put(hashed, req.commitlog_offset, req.store_timestamp):
                last = self._new_file()
                last.put(hashed, req.commitlog_offset, req.store_timestamp)

    def _new_file(self) -> IndexFile:
        os.makedirs(self.directory, exist_ok=True)
        now = time.time()
        while True:
            name = (
                time.strftime("%Y%m%d%H%M%S", time.localtime(now)) + f"{int(now * 1000) % 1000:03d}"
            )
            path = os.path.join(self.directory, name)
            if not os.path.exists(path) and all(f.name < name for f in self.files):
                break
            now += 0.001
        index_file = IndexFile(path, self.slot_num, self.max_index, create=True)
        self.files = [*self.files, index_file]
        return index_file

    def query(
        self, topic: str, key: str, max_num: int, begin_ms: int, end_ms: int
    ) -> tuple[list[int], int, int]:
        """Phy offsets (newest first) for ``topic#key`` stored in [begin_ms, end_ms], plus the
        newest file's end timestamp and end phy offset."""
        hashed = self._hash(topic, key)
        out: list[int] = []
        files = self.files
        for index_file in reversed(files):
            if len(out) >= max_num:
                break
            if index_file.time_matches(begin_ms, end_ms):
                index_file.select(hashed, begin_ms, end_ms, max_num, out)
        last = files[-1] if files else None
        return out, (last.end_ts if last else 0), (last.end_phy if last else 0)

    def truncate(
        self, phy_end: int, timestamp_at: Callable[[int], int | None], report: RecoveryReport
    ) -> None:
        """Drop every entry of records at or past ``phy_end``."""
        kept: list[IndexFile] = []
        for index_file in self.files:
            if index_file.has_entries and index_file.begin_phy >= phy_end:
                report.index_entries_dropped += index_file.index_count - 1
                index_file.destroy()
                continue
            if index_file.has_entries and index_file.end_phy >= phy_end:
                report.index_entries_dropped += index_file.truncate(phy_end, timestamp_at)
            kept.append(index_file)
        self.files = kept

    def delete_expired(self, phy_min: int) -> int:
        """Delete files whose entries all point below ``phy_min`` (never the newest)."""
        count = 0
        files = self.files
        while count < len(files) - 1 and files[count].end_phy < phy_min:
            count += 1
        if count:
            self.pending_destroy.extend(files[:count])
            self.files = files[count:]
        self.destroy_pending()
        return count

    def destroy_pending(self) -> None:
        """Retry deleting files a reader held."""
        self.pending_destroy = [f for f in self.pending_destroy if not f.destroy()]

    def flush(self) -> None:
        """fdatasync changed files."""
        for index_file in self.files:
            index_file.flush()

    def close(self) -> None:
        """Unmap every file."""
        for index_file in self.files:
            index_file.mapped.try_close()
        self.files = []


def _is_rollback(req: DispatchRequest) -> bool:
    return req.sys_flag & _TRANSACTION_TYPE_MASK == _ROLLBACK


def _keys_of(req: DispatchRequest) -> list[str]:
    """The keys indexed for a record: UNIQ_KEY, then every non-empty KEYS token (at most
    ``2 + len(KEYS) // 2`` of them)."""
    keys: list[str] = []
    if req.uniq_key:
        keys.append(req.uniq_key)
    if req.keys:
        keys.extend(k for k in req.keys.split(" ") if k)
    return keys
