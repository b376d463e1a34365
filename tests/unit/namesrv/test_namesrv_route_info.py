"""RouteInfoManager: registration, routes, expiry with a driven clock, unregistration."""

from __future__ import annotations

from rmq_core.common.perm import PERM_READ, is_writeable
from rmq_core.namesrv.model import (
    DataVersion,
    QueueData,
    RegisterBrokerBody,
    TopicConfig,
)
from rmq_core.namesrv.route_info import (
    BrokerAddrInfo,
    BrokerRegistration,
    RegisterBrokerResult,
    RouteInfoManager,
)


class FakeClock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def body(*topics: str, counter: int = 1, state: int = 0, queues: int = 4) -> RegisterBrokerBody:
    return RegisterBrokerBody(
        data_version=DataVersion(counter=counter, state_version=state, timestamp=1),
        topic_config_table={
            t: TopicConfig(t, read_queue_nums=queues, write_queue_nums=queues) for t in topics
        },
    )


def reg(
    name: str,
    addr: str,
    *,
    cluster: str = "c1",
    broker_id: int = 0,
    topics: tuple[str, ...] = ("T1",),
    channel: object = None,
    **kw: object,
) -> BrokerRegistration:
    return BrokerRegistration(
        cluster_name=cluster,
        broker_addr=addr,
        broker_name=name,
        broker_id=broker_id,
        ha_server_addr=addr.replace(":10911", ":10912"),
        body=body(*topics, **kw),  # type: ignore[arg-type]
        channel=channel,
    )


def test_register_and_route() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    result = rim.register_broker(reg("b", "10.0.0.1:10911", topics=("T1", "T2")))
    assert result == RegisterBrokerResult()
    route = rim.pickup_topic_route("T1")
    assert route is not None
    assert [
        (q.broker_name, q.read_queue_nums, q.write_queue_nums, q.perm) for q in route.queue_datas
    ] == [("b", 4, 4, 6)]
    assert [(b.cluster, b.broker_name, b.broker_addrs) for b in route.broker_datas] == [
        ("c1", "b", {0: "10.0.0.1:10911"})
    ]
    assert rim.pickup_topic_route("nope") is None
    assert rim.all_topics() == ["T1", "T2"]


def test_route_is_a_copy() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    rim.register_broker(reg("b", "a:1"))
    route = rim.pickup_topic_route("T1")
    assert route is not None
    route.broker_datas[0].broker_addrs[5] = "x"
    route.queue_datas[0].perm = 0
    again = rim.pickup_topic_route("T1")
    assert again is not None
    assert again.broker_datas[0].broker_addrs == {0: "a:1"}
    assert again.queue_datas[0].perm == 6


def test_two_groups_share_a_topic_sorted_by_broker_name() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    rim.register_broker(reg("zeta", "z:1", cluster="c2", topics=("T", "Z")))
    rim.register_broker(reg("alpha", "a:1", cluster="c1", topics=("T", "A")))
    route = rim.pickup_topic_route("T")
    assert route is not None
    assert [q.broker_name for q in route.queue_datas] == ["alpha", "zeta"]
    assert [b.broker_name for b in route.broker_datas] == ["alpha", "zeta"]
    assert rim.topics_by_cluster("c1") == ["A", "T"]
    assert rim.topics_by_cluster("c2") == ["T", "Z"]
    assert rim.topics_by_cluster("none") == []


def test_slave_learns_master_and_only_master_updates_topics() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    rim.register_broker(reg("b", "m:10911", topics=("T1", "T2")))
    result = rim.register_broker(reg("b", "s:10911", broker_id=1, topics=("T1", "T2", "X")))
    assert result == RegisterBrokerResult(ha_server_addr="m:10912", master_addr="m:10911")
    assert "X" not in rim.all_topics()
    route = rim.pickup_topic_route("T1")
    assert route is not None
    assert route.broker_datas[0].broker_addrs == {0: "m:10911", 1: "s:10911"}


def test_slave_before_master_gets_empty_result() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    assert rim.register_broker(reg("b", "s:1", broker_id=1)) == RegisterBrokerResult()


def test_topic_changes_applied_only_when_data_version_changes() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    rim.register_broker(reg("b", "a:1", topics=("T1",), counter=1, queues=4))
    rim.register_broker(reg("b", "a:1", topics=("T1",), counter=1, queues=8))
    route = rim.pickup_topic_route("T1")
    assert route is not None and route.queue_datas[0].read_queue_nums == 4
    rim.register_broker(reg("b", "a:1", topics=("T1",), counter=2, queues=8))
    route = rim.pickup_topic_route("T1")
    assert route is not None and route.queue_datas[0].read_queue_nums == 8


def test_same_version_still_adds_topics_this_namesrv_lacks() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    rim.register_broker(reg("b", "a:1", topics=("T1", "T2"), counter=1))
    rim.delete_topic("T2")
    rim.register_broker(reg("b", "a:1", topics=("T1", "T2"), counter=1))
    assert rim.all_topics() == ["T1", "T2"]


def test_delete_topic_with_broker_registration() -> None:
    rim = RouteInfoManager(clock=FakeClock(), delete_topic_with_broker_registration=True)
    rim.register_broker(reg("b", "a:1", topics=("T1", "T2"), counter=1))
    rim.register_broker(reg("b", "a:1", topics=("T1", "T3"), counter=2))
    assert rim.all_topics() == ["T1", "T3"]


def test_expiry_with_driven_clock() -> None:
    clock = FakeClock(1000.0)
    rim = RouteInfoManager(clock=clock)
    rim.register_broker(reg("b1", "a:1", topics=("T1",), channel="ch1"))
    clock.now = 1100.0
    rim.register_broker(reg("b2", "b:1", cluster="c2", topics=("T1", "T2"), channel="ch2"))
    assert rim.scan_not_active_brokers(1119.9) == []
    expired = rim.scan_not_active_brokers(1120.5)
    assert [e.channel for e in expired] == ["ch1"]
    route = rim.pickup_topic_route("T1")
    assert route is not None and [b.broker_name for b in route.broker_datas] == ["b2"]
    assert set(rim.cluster_info().cluster_addr_table) == {"c2"}
    assert [e.channel for e in rim.scan_not_active_brokers(1221.0)] == ["ch2"]
    assert rim.all_topics() == []
    assert rim.cluster_info().broker_addr_table == {}


def test_reregistration_refreshes_liveness() -> None:
    clock = FakeClock(0.0)
    rim = RouteInfoManager(clock=clock)
    rim.register_broker(reg("b", "a:1"))
    clock.now = 100.0
    rim.register_broker(reg("b", "a:1"))
    assert rim.scan_not_active_brokers(200.0) == []
    assert len(rim.scan_not_active_brokers(220.1)) == 1


def test_custom_heartbeat_timeout() -> None:
    rim = RouteInfoManager(clock=FakeClock(0.0))
    registration = reg("b", "a:1")
    registration.timeout = 10.0
    rim.register_broker(registration)
    assert rim.scan_not_active_brokers(10.0) == []
    assert len(rim.scan_not_active_brokers(10.5)) == 1


def test_update_broker_timestamp_keeps_alive() -> None:
    clock = FakeClock(0.0)
    rim = RouteInfoManager(clock=clock)
    rim.register_broker(reg("b", "a:1"))
    assert rim.update_broker_timestamp("c1", "a:1", now=100.0)
    assert not rim.update_broker_timestamp("c1", "zz:1", now=100.0)
    assert rim.scan_not_active_brokers(200.0) == []


def test_channel_close_removes_broker() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    rim.register_broker(reg("b", "m:1", channel="cm"))
    rim.register_broker(reg("b", "s:1", broker_id=1, channel="cs"))
    assert rim.on_channel_closed("cs") == [BrokerAddrInfo("c1", "s:1")]
    data = rim.broker_data("b")
    assert data is not None and data.broker_addrs == {0: "m:1"}
    assert rim.on_channel_closed("unknown") == []
    rim.on_channel_closed("cm")
    assert rim.broker_data("b") is None
    assert rim.pickup_topic_route("T1") is None


def test_unregister_master_keeps_slave_group() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    rim.register_broker(reg("b", "m:1"))
    rim.register_broker(reg("b", "s:1", broker_id=1))
    assert rim.unregister_broker("c1", "m:1", "b", 0)
    route = rim.pickup_topic_route("T1")
    assert route is not None and route.broker_datas[0].broker_addrs == {1: "s:1"}
    assert rim.unregister_broker("c1", "s:1", "b", 1)
    assert rim.pickup_topic_route("T1") is None
    assert not rim.unregister_broker("c1", "s:1", "b", 1)
    assert rim.cluster_info().cluster_addr_table == {}


def test_address_changing_id_replaces_old_entry() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    rim.register_broker(reg("b", "x:1", broker_id=1))
    rim.register_broker(reg("b", "x:1", broker_id=0))
    data = rim.broker_data("b")
    assert data is not None and data.broker_addrs == {0: "x:1"}


def test_older_state_version_is_ignored() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    rim.register_broker(reg("b", "new:1", state=5))
    result = rim.register_broker(reg("b", "old:1", state=3))
    assert result == RegisterBrokerResult()
    data = rim.broker_data("b")
    assert data is not None and data.broker_addrs == {0: "new:1"}
    assert BrokerAddrInfo("c1", "old:1") not in rim.live_brokers()


def test_acting_master_slave_gets_read_only_queues() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    registration = reg("b", "s:1", broker_id=1)
    registration.enable_acting_master = True
    rim.register_broker(registration)
    route = rim.pickup_topic_route("T1")
    assert route is not None
    assert route.queue_datas[0].perm == PERM_READ
    assert route.broker_datas[0].enable_acting_master


def test_acting_master_loses_write_when_master_leaves() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    for broker_id, addr in ((0, "m:1"), (1, "s:1")):
        registration = reg("b", addr, broker_id=broker_id)
        registration.enable_acting_master = True
        rim.register_broker(registration)
    rim.unregister_broker("c1", "m:1", "b", 0)
    route = rim.pickup_topic_route("T1")
    assert route is not None and not is_writeable(route.queue_datas[0].perm)


def test_register_without_body_keeps_broker_alive_without_topics() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    rim.register_broker(BrokerRegistration("c", "a:1", "b", 0))
    assert rim.query_broker_data_version("c", "a:1") == DataVersion()
    assert rim.all_topics() == []
    assert rim.cluster_info().cluster_addr_table == {"c": ["b"]}


def test_data_version_queries() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    rim.register_broker(reg("b", "a:1", counter=7))
    version = DataVersion(counter=7, state_version=0, timestamp=1)
    assert rim.query_broker_data_version("c1", "a:1") == version
    assert not rim.is_broker_topic_config_changed("c1", "a:1", version)
    assert rim.is_broker_topic_config_changed("c1", "a:1", DataVersion(counter=8))
    assert rim.is_broker_topic_config_changed("c1", "other:1", version)


def test_cluster_info() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    rim.register_broker(reg("b2", "b:1", cluster="c1"))
    rim.register_broker(reg("b1", "a:1", cluster="c1"))
    rim.register_broker(reg("b1", "a2:1", cluster="c1", broker_id=1))
    rim.register_broker(reg("x", "x:1", cluster="c2"))
    info = rim.cluster_info()
    assert info.cluster_addr_table == {"c1": ["b1", "b2"], "c2": ["x"]}
    assert list(info.broker_addr_table) == ["b1", "b2", "x"]
    assert info.broker_addr_table["b1"].broker_addrs == {0: "a:1", 1: "a2:1"}
    assert info.broker_addr_table["x"].cluster == "c2"


def test_delete_topic_everywhere_or_per_cluster() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    rim.register_broker(reg("a", "a:1", cluster="c1", topics=("T", "U")))
    rim.register_broker(reg("b", "b:1", cluster="c2", topics=("T", "U")))
    assert rim.delete_topic("T", "c1")
    route = rim.pickup_topic_route("T")
    assert route is not None and [q.broker_name for q in route.queue_datas] == ["b"]
    assert not rim.delete_topic("T", "c1")
    assert rim.delete_topic("U")
    assert rim.all_topics() == ["T"]
    assert not rim.delete_topic("U")


def test_register_topic() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    rim.register_broker(reg("b", "a:1"))
    assert rim.register_topic("NEW", [QueueData("b", 2, 2, 6)])
    route = rim.pickup_topic_route("NEW")
    assert route is not None and route.queue_datas == [QueueData("b", 2, 2, 6, 0)]
    assert not rim.register_topic("BAD", [QueueData("b", 2, 2, 6), QueueData("ghost", 1, 1, 6)])
    assert "BAD" not in rim.all_topics()
    assert not rim.register_topic("EMPTY", [])


def test_wipe_and_add_write_perm() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    rim.register_broker(reg("b", "a:1", topics=("T1", "T2")))
    rim.register_broker(reg("o", "o:1", topics=("T1",)))
    assert rim.wipe_write_perm("b") == 2
    route = rim.pickup_topic_route("T1")
    assert route is not None
    assert {q.broker_name: q.perm for q in route.queue_datas} == {"b": 4, "o": 6}
    assert rim.add_write_perm("b") == 2
    route = rim.pickup_topic_route("T2")
    assert route is not None and route.queue_datas[0].perm == 6
    assert rim.wipe_write_perm("ghost") == 0


def test_filter_servers_in_route() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    registration = reg("b", "a:1")
    assert registration.body is not None
    registration.body.filter_server_list = ["f:1"]
    rim.register_broker(registration)
    route = rim.pickup_topic_route("T1")
    assert route is not None and route.filter_server_table == {"a:1": ["f:1"]}


def test_system_topics() -> None:
    rim = RouteInfoManager(clock=FakeClock())
    rim.register_broker(reg("b", "a:1", cluster="DefaultCluster"))
    topics, addr = rim.system_topics()
    assert topics == ["DefaultCluster", "b"]
    assert addr == "a:1"
