"""PopStateTable: in-flight bookkeeping, deadlines, handles and the popState.json round trip."""

from __future__ import annotations

from rmq_core.broker.pop.state import InFlight, PopStateTable, QueueState

KEY = ("G", "T", 0)


def _table_with(entries: list[InFlight], pop_offset: int = 10) -> PopStateTable:
    table = PopStateTable()
    table.create(KEY, pop_offset)
    for entry in entries:
        table.add(KEY, entry)
    return table


def test_min_unacked_is_smallest_inflight_else_pop_offset() -> None:
    state = QueueState(pop_offset=7)
    assert state.min_unacked() == 7
    state.inflight[5] = InFlight(5, 500, 1000, 30)
    state.inflight[3] = InFlight(3, 300, 1000, 30)
    assert state.min_unacked() == 3


def test_find_requires_the_current_pop_time() -> None:
    table = _table_with([InFlight(4, 400, 1_000, 5_000)])
    assert table.find(KEY, 4, 1_000) is not None
    assert table.find(KEY, 4, 999) is None
    assert table.find(KEY, 5, 1_000) is None
    assert table.find(("G", "T", 1), 4, 1_000) is None


def test_expired_entries_come_out_in_deadline_order_and_skip_stale_ones() -> None:
    a, b, c = InFlight(1, 10, 1_000, 100), InFlight(2, 20, 1_000, 50), InFlight(3, 30, 1_000, 900)
    table = _table_with([a, b, c])
    assert table.next_deadline() == 1_050
    table.rehide(KEY, a, 1_200, 1_000)  # a's old deadline (1_100) becomes stale
    expired = table.pop_expired(1_150, limit=10)
    assert [e.offset for _, e in expired] == [2]
    table.remove(KEY, 2)
    assert table.next_deadline() == 1_900
    assert [e.offset for _, e in table.pop_expired(5_000, limit=10)] == [3, 1]


def test_pop_expired_honours_the_limit_and_defer_retries_later() -> None:
    entries = [InFlight(i, i * 10, 0, 10) for i in range(5)]
    table = _table_with(entries)
    first = table.pop_expired(100, limit=2)
    assert len(first) == 2
    key, entry = first[0]
    table.defer(key, entry, 500)
    assert [e.offset for _, e in table.pop_expired(100, limit=10)] == [2, 3, 4]
    assert [e.offset for _, e in table.pop_expired(500, limit=10)] == [entry.offset]


def test_json_round_trip_keeps_positions_handles_and_deadlines() -> None:
    table = _table_with([InFlight(3, 300, 1_000, 30_000), InFlight(8, 800, 2_000, 5_000)])
    state = table.get(KEY)
    assert state is not None
    state.committed = 3
    other = PopStateTable()
    assert other.load_json(table.to_json()) == 1
    loaded = other.get(KEY)
    assert loaded is not None
    assert (loaded.pop_offset, loaded.committed, sorted(loaded.inflight)) == (10, 3, [3, 8])
    assert other.find(KEY, 8, 2_000) is not None
    assert other.next_deadline() == 7_000
    assert not other.dirty


def test_load_skips_malformed_entries() -> None:
    table = PopStateTable()
    data = {
        "version": 1,
        "queues": [
            {"group": "G", "topic": "T", "queueId": 0, "popOffset": 2, "inflight": [[1, 2, 3]]},
            {"group": 5, "topic": "T", "queueId": 1, "popOffset": 2},
            "nonsense",
            {"group": "G", "topic": "T", "queueId": 2, "popOffset": 4, "inflight": [[1, 2, 3, 4]]},
        ],
    }
    assert table.load_json(data) == 1
    assert table.get(("G", "T", 2)) is not None
    assert table.load_json({"no": "queues"}) == 0
    assert table.load_json(None) == 0


def test_full_queue_and_counts() -> None:
    table = _table_with([InFlight(1, 1, 0, 1)])
    state = table.get(KEY)
    assert state is not None and not state.full
    assert table.inflight_count == 1
    table.drop(KEY)
    assert table.get(KEY) is None and len(table) == 0


def test_heap_is_compacted_when_stale_entries_pile_up() -> None:
    entry = InFlight(1, 10, 0, 1_000)
    table = _table_with([entry, InFlight(2, 20, 0, 5_000_000)])
    for round_ in range(1, 20_000):
        table.rehide(KEY, entry, round_, 1_000)  # each re-hide leaves a stale entry behind
    assert table.heap_size <= 4 * 1024 + 1
    assert table.next_deadline() == 19_999 + 1_000
    assert table.find(KEY, 1, 19_999) is entry
    assert [e.offset for _, e in table.pop_expired(10**9, limit=10)] == [1, 2]
    assert table.inflight_count == 2
    table.remove(KEY, 1)
    table.drop(KEY)
    assert table.inflight_count == 0


def test_entries_below_the_floor_stay_in_flight_but_do_not_hold_the_offset_back() -> None:
    table = _table_with([InFlight(2, 200, 1_000, 30), InFlight(12, 1200, 1_000, 30)], 14)
    state = table.get(KEY)
    assert state is not None
    state.floor = 10
    assert state.min_unacked() == 12
    table.remove(KEY, 12)
    assert state.min_unacked() == 14
    assert [e.offset for _, e in table.pop_expired(2_000, limit=10)] == [2]
    state.pop_offset = 8  # moved back below the floor's in-flight entries: never above it
    table.add(KEY, InFlight(9, 900, 1_000, 30))
    state.floor = 8
    assert state.min_unacked() == 8
    other = PopStateTable()
    other.load_json(table.to_json())
    loaded = other.get(KEY)
    assert loaded is not None and loaded.floor == 8 and sorted(loaded.inflight) == [2, 9]
