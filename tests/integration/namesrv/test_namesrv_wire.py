"""Two NameServers over real sockets (127.0.0.1:0), driven by remoting clients like brokers.

Broker expiry is tested with an injected clock and ``housekeeping.run_once(later)``: no test
sleeps for the 120 s timeout.
"""

from __future__ import annotations

import asyncio
import json
import socket
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from rmq_core.namesrv.bodies import (
    decode_cluster_info,
    decode_data_version,
    decode_kv_table,
    decode_topic_list,
    decode_topic_route,
    encode_data_version,
    encode_register_broker_body,
    encode_topic_route,
)
from rmq_core.namesrv.config import NamesrvConfig
from rmq_core.namesrv.controller import NamesrvController
from rmq_core.namesrv.model import (
    BrokerData,
    DataVersion,
    QueueData,
    RegisterBrokerBody,
    TopicConfig,
    TopicRouteData,
)
from rmq_core.remoting.client import RemotingClient
from rmq_core.remoting.codec import FrameDecoder, encode_frame
from rmq_core.remoting.codes import RequestCode, ResponseCode, SerializeType
from rmq_core.remoting.command import RemotingCommand

TIMEOUT = 5.0


class FakeClock:
    """Seconds, moved by the test."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(scenario(), 30.0)

    asyncio.run(bounded())


@asynccontextmanager
async def namesrvs(
    count: int, clock: FakeClock, **config: object
) -> AsyncIterator[list[NamesrvController]]:
    servers = [
        NamesrvController(NamesrvConfig(port=0, **config), clock=clock)  # type: ignore[arg-type]
        for _ in range(count)
    ]
    started: list[NamesrvController] = []
    try:
        for server in servers:
            await server.start()
            started.append(server)
        yield servers
    finally:
        for server in started:
            await server.shutdown()


async def call(
    client: RemotingClient,
    address: str,
    code: int,
    ext_fields: dict[str, str] | None = None,
    body: bytes = b"",
    *,
    version: int = 401,
    serialize_type: SerializeType = SerializeType.JSON,
) -> RemotingCommand:
    request = RemotingCommand.request(code, body=body, ext_fields=ext_fields)
    request.version = version
    request.serialize_type = serialize_type
    return await client.invoke(address, request, TIMEOUT)


def topics_body(*topics: str, counter: int = 1, queues: int = 4) -> bytes:
    return encode_register_broker_body(
        RegisterBrokerBody(
            data_version=DataVersion(counter=counter, timestamp=1_700_000_000_000),
            topic_config_table={
                t: TopicConfig(t, read_queue_nums=queues, write_queue_nums=queues) for t in topics
            },
        )
    )


async def register(
    client: RemotingClient,
    namesrv: str,
    *,
    cluster: str,
    name: str,
    addr: str,
    broker_id: int = 0,
    body: bytes = b"",
    extra: dict[str, str] | None = None,
    serialize_type: SerializeType = SerializeType.JSON,
    version: int = 401,
) -> RemotingCommand:
    fields = {
        "brokerName": name,
        "brokerAddr": addr,
        "clusterName": cluster,
        "haServerAddr": addr.rsplit(":", 1)[0] + ":10912",
        "brokerId": str(broker_id),
        "compressed": "false",
        "bodyCrc32": str(zlib.crc32(body) & 0x7FFFFFFF),
    }
    fields.update(extra or {})
    response = await call(
        client,
        namesrv,
        RequestCode.REGISTER_BROKER,
        fields,
        body,
        serialize_type=serialize_type,
        version=version,
    )
    return response


async def route(client: RemotingClient, namesrv: str, topic: str) -> TopicRouteData | None:
    response = await call(client, namesrv, RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": topic})
    if response.code == ResponseCode.TOPIC_NOT_EXIST:
        return None
    assert response.code == ResponseCode.SUCCESS, response.remark
    return decode_topic_route(response.body)


def brokers_of(r: TopicRouteData | None) -> list[str]:
    return [] if r is None else [q.broker_name for q in r.queue_datas]


async def wait_until(predicate: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not await predicate():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def test_two_brokers_two_clusters_two_namesrvs() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        async with namesrvs(2, clock) as servers:
            ns = [s.address for s in servers]
            broker_a, broker_b, reader = RemotingClient(), RemotingClient(), RemotingClient()
            try:
                for address in ns:
                    ra = await register(
                        broker_a,
                        address,
                        cluster="ClusterA",
                        name="broker-a",
                        addr="10.0.0.1:10911",
                        body=topics_body("T1", "T2"),
                    )
                    rb = await register(
                        broker_b,
                        address,
                        cluster="ClusterB",
                        name="broker-b",
                        addr="10.0.0.2:10911",
                        body=topics_body("T2", "T3", queues=8),
                    )
                    assert ra.code == rb.code == ResponseCode.SUCCESS
                    assert "masterAddr" not in ra.ext_fields

                for address in ns:
                    assert brokers_of(await route(reader, address, "T1")) == ["broker-a"]
                    r2 = await route(reader, address, "T2")
                    assert brokers_of(r2) == ["broker-a", "broker-b"]
                    assert r2 is not None
                    assert {b.broker_name: b.broker_addrs for b in r2.broker_datas} == {
                        "broker-a": {0: "10.0.0.1:10911"},
                        "broker-b": {0: "10.0.0.2:10911"},
                    }
                    r3 = await route(reader, address, "T3")
                    assert r3 is not None and r3.queue_datas == [QueueData("broker-b", 8, 8, 6, 0)]
                    assert await route(reader, address, "Unknown") is None

                    info_resp = await call(reader, address, RequestCode.GET_BROKER_CLUSTER_INFO)
                    assert b'"brokerAddrs":{0:"10.0.0.1:10911"}' in info_resp.body
                    info = decode_cluster_info(info_resp.body)
                    assert info.cluster_addr_table == {
                        "ClusterA": ["broker-a"],
                        "ClusterB": ["broker-b"],
                    }
                    assert info.broker_addr_table["broker-b"] == BrokerData(
                        "ClusterB", "broker-b", {0: "10.0.0.2:10911"}
                    )
                    topics = await call(
                        reader, address, RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER
                    )
                    assert decode_topic_list(topics.body) == (["T1", "T2", "T3"], None)

                # Expiry: broker-b re-registers 100 s later, broker-a stays silent.
                clock.now += 100
                for address in ns:
                    await register(
                        broker_b,
                        address,
                        cluster="ClusterB",
                        name="broker-b",
                        addr="10.0.0.2:10911",
                        body=topics_body("T2", "T3", queues=8),
                    )
                for server in servers:
                    assert server.housekeeping.run_once(clock.now + 19) == []
                    expired = server.housekeeping.run_once(clock.now + 21)
                    assert len(expired) == 1
                for address in ns:
                    assert await route(reader, address, "T1") is None
                    assert brokers_of(await route(reader, address, "T2")) == ["broker-b"]
                    info = decode_cluster_info(
                        (await call(reader, address, RequestCode.GET_BROKER_CLUSTER_INFO)).body
                    )
                    assert info.cluster_addr_table == {"ClusterB": ["broker-b"]}
                # The NameServers closed the expired broker's connections.
                await wait_until(
                    lambda: _no_open_connections(broker_a), "expired connections closed"
                )

                # Connection close: broker-b's process goes away.
                await broker_b.close()
                for address in ns:

                    async def gone(address: str = address) -> bool:
                        return await route(reader, address, "T2") is None

                    await wait_until(gone, "broker-b removed after its connection closed")
                    topics = await call(
                        reader, address, RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER
                    )
                    assert decode_topic_list(topics.body) == ([], None)
            finally:
                for client in (broker_a, broker_b, reader):
                    await client.close()

    run(scenario)


async def _no_open_connections(client: RemotingClient) -> bool:
    return not client.addresses


def test_namesrvs_are_independent() -> None:
    async def scenario() -> None:
        async with namesrvs(2, FakeClock()) as (one, two), RemotingClient() as client:
            await register(
                client, one.address, cluster="C", name="b", addr="h:1", body=topics_body("T")
            )
            assert brokers_of(await route(client, one.address, "T")) == ["b"]
            assert await route(client, two.address, "T") is None

    run(scenario)


def test_route_json_form_follows_request_version() -> None:
    async def scenario() -> None:
        async with namesrvs(1, FakeClock()) as (server,), RemotingClient() as client:
            await register(
                client, server.address, cluster="C", name="b", addr="h:1", body=topics_body("T")
            )
            fields = {"topic": "T"}
            old = await call(client, server.address, 105, fields, version=400)
            assert b'"brokerAddrs":{0:"h:1"}' in old.body
            new = await call(client, server.address, 105, fields, version=401)
            assert b'"brokerAddrs":{"0":"h:1"}' in new.body
            assert json.loads(new.body)["queueDatas"][0]["writeQueueNums"] == 4
            forced = await call(
                client,
                server.address,
                105,
                {**fields, "acceptStandardJsonOnly": "true"},
                version=37,
            )
            assert forced.body == new.body
            missing = await call(client, server.address, 105, {"topic": "nope"})
            assert missing.code == ResponseCode.TOPIC_NOT_EXIST
            assert missing.remark is not None and "nope" in missing.remark

    run(scenario)


def test_rocketmq_header_compressed_body_and_slave_registration() -> None:
    async def scenario() -> None:
        async with namesrvs(1, FakeClock()) as (server,), RemotingClient() as client:
            body = RegisterBrokerBody(
                data_version=DataVersion(counter=3, timestamp=5),
                topic_config_table={"TC": TopicConfig("TC", 2, 2, 6)},
            )
            compressed = encode_register_broker_body(body, compressed=True, version=479)
            master = await register(
                client,
                server.address,
                cluster="C",
                name="b",
                addr="m:10911",
                body=compressed,
                extra={"compressed": "true"},
                serialize_type=SerializeType.ROCKETMQ,
                version=479,
            )
            assert master.code == ResponseCode.SUCCESS, master.remark
            slave = await register(
                client,
                server.address,
                cluster="C",
                name="b",
                addr="s:10911",
                broker_id=1,
                body=topics_body("TC"),
                serialize_type=SerializeType.ROCKETMQ,
            )
            assert slave.code == ResponseCode.SUCCESS
            assert slave.ext_fields["masterAddr"] == "m:10911"
            assert slave.ext_fields["haServerAddr"] == "m:10912"
            r = await route(client, server.address, "TC")
            assert r is not None and r.queue_datas == [QueueData("b", 2, 2, 6, 0)]
            assert r.broker_datas[0].broker_addrs == {0: "m:10911", 1: "s:10911"}
            get = await call(
                client, server.address, 105, {"topic": "TC"}, serialize_type=SerializeType.ROCKETMQ
            )
            assert get.code == ResponseCode.SUCCESS

    run(scenario)


def test_unregister_and_broker_requests() -> None:
    async def scenario() -> None:
        async with namesrvs(1, FakeClock()) as (server,), RemotingClient() as client:
            address = server.address
            await register(
                client, address, cluster="C", name="b", addr="m:1", body=topics_body("T")
            )
            await register(
                client,
                address,
                cluster="C",
                name="b",
                addr="s:1",
                broker_id=1,
                body=topics_body("T"),
            )
            ident = {"brokerName": "b", "brokerAddr": "m:1", "clusterName": "C", "brokerId": "0"}

            dv = await call(
                client,
                address,
                RequestCode.QUERY_DATA_VERSION,
                ident,
                encode_data_version(DataVersion(counter=1, timestamp=1_700_000_000_000)),
            )
            assert dv.code == ResponseCode.SUCCESS and dv.ext_fields["changed"] == "false"
            assert decode_data_version(dv.body).counter == 1
            dv = await call(
                client,
                address,
                RequestCode.QUERY_DATA_VERSION,
                ident,
                encode_data_version(DataVersion(counter=2)),
            )
            assert dv.ext_fields["changed"] == "true"

            hb = await call(client, address, RequestCode.BROKER_HEARTBEAT, ident)
            assert hb.code == ResponseCode.SUCCESS
            group = await call(
                client,
                address,
                RequestCode.GET_BROKER_MEMBER_GROUP,
                {"clusterName": "C", "brokerName": "b"},
            )
            assert group.body == (
                b'{"brokerMemberGroup":{"brokerAddrs":{0:"m:1",1:"s:1"},'
                b'"brokerName":"b","cluster":"C"}}'
            )

            wipe = await call(
                client, address, RequestCode.WIPE_WRITE_PERM_OF_BROKER, {"brokerName": "b"}
            )
            assert wipe.ext_fields["wipeTopicCount"] == "1"
            r = await route(client, address, "T")
            assert r is not None and r.queue_datas[0].perm == 4
            add = await call(
                client, address, RequestCode.ADD_WRITE_PERM_OF_BROKER, {"brokerName": "b"}
            )
            assert add.ext_fields["addTopicCount"] == "1"

            by_cluster = await call(
                client, address, RequestCode.GET_TOPICS_BY_CLUSTER, {"cluster": "C"}
            )
            assert decode_topic_list(by_cluster.body) == (["T"], None)
            system = await call(client, address, RequestCode.GET_SYSTEM_TOPIC_LIST_FROM_NS)
            assert decode_topic_list(system.body) == (["C", "b"], "m:1")

            new_route = encode_topic_route(
                TopicRouteData(queue_datas=[QueueData("b", 1, 1, 6)]), standard=True
            )
            reg_topic = await call(
                client, address, RequestCode.REGISTER_TOPIC_IN_NAMESRV, {"topic": "NEW"}, new_route
            )
            assert reg_topic.code == ResponseCode.SUCCESS
            assert brokers_of(await route(client, address, "NEW")) == ["b"]
            delete = await call(
                client,
                address,
                RequestCode.DELETE_TOPIC_IN_NAMESRV,
                {"topic": "NEW", "clusterName": "C"},
            )
            assert delete.code == ResponseCode.SUCCESS
            assert await route(client, address, "NEW") is None

            unreg = await call(client, address, RequestCode.UNREGISTER_BROKER, ident)
            assert unreg.code == ResponseCode.SUCCESS
            r = await route(client, address, "T")
            assert r is not None and r.broker_datas[0].broker_addrs == {1: "s:1"}

            unknown = await call(client, address, 9999)
            assert unknown.code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED

    run(scenario)


def test_kv_config_persisted_across_restart(tmp_path: Path) -> None:
    kv_path = tmp_path / "namesrv" / "kvConfig.json"

    async def scenario() -> None:
        clock = FakeClock()
        async with (
            namesrvs(1, clock, kv_config_path=kv_path, order_message_enable=True) as (server,),
            RemotingClient() as client,
        ):
            address = server.address
            put = await call(
                client,
                address,
                RequestCode.PUT_KV_CONFIG,
                {"namespace": "ORDER_TOPIC_CONFIG", "key": "T", "value": "b:4"},
            )
            assert put.code == ResponseCode.SUCCESS
            await call(
                client,
                address,
                RequestCode.PUT_KV_CONFIG,
                {"namespace": "ns", "key": "k", "value": "v"},
            )
            got = await call(
                client, address, RequestCode.GET_KV_CONFIG, {"namespace": "ns", "key": "k"}
            )
            assert got.code == ResponseCode.SUCCESS and got.ext_fields["value"] == "v"
            listed = await call(
                client, address, RequestCode.GET_KVLIST_BY_NAMESPACE, {"namespace": "ns"}
            )
            assert decode_kv_table(listed.body) == {"k": "v"}

            reg = await register(
                client, address, cluster="C", name="b", addr="h:1", body=topics_body("T")
            )
            assert decode_kv_table(reg.body) == {"T": "b:4"}
            r = await route(client, address, "T")
            assert r is not None and r.order_topic_conf == "b:4"

            deleted = await call(
                client, address, RequestCode.DELETE_KV_CONFIG, {"namespace": "ns", "key": "k"}
            )
            assert deleted.code == ResponseCode.SUCCESS
            got = await call(
                client, address, RequestCode.GET_KV_CONFIG, {"namespace": "ns", "key": "k"}
            )
            assert got.code == ResponseCode.QUERY_NOT_FOUND
            listed = await call(
                client, address, RequestCode.GET_KVLIST_BY_NAMESPACE, {"namespace": "ns"}
            )
            assert listed.code == ResponseCode.QUERY_NOT_FOUND

        assert json.loads(kv_path.read_text()) == {
            "configTable": {"ORDER_TOPIC_CONFIG": {"T": "b:4"}}
        }
        async with (
            namesrvs(1, clock, kv_config_path=kv_path) as (server,),
            RemotingClient() as client,
        ):
            got = await call(
                client,
                server.address,
                RequestCode.GET_KV_CONFIG,
                {"namespace": "ORDER_TOPIC_CONFIG", "key": "T"},
            )
            assert got.ext_fields["value"] == "b:4"

    run(scenario)


def test_bad_input_gets_clear_errors_and_server_keeps_serving() -> None:
    async def scenario() -> None:
        async with namesrvs(1, FakeClock()) as (server,), RemotingClient() as client:
            address = server.address
            missing = await call(
                client,
                address,
                RequestCode.REGISTER_BROKER,
                {"brokerName": "b", "clusterName": "C", "haServerAddr": "h:2", "brokerId": "0"},
            )
            assert missing.code == ResponseCode.SYSTEM_ERROR
            assert missing.remark is not None and "brokerAddr" in missing.remark

            bad_id = await register(
                client, address, cluster="C", name="b", addr="h:1", extra={"brokerId": "zero"}
            )
            assert bad_id.code == ResponseCode.SYSTEM_ERROR
            assert bad_id.remark is not None and "brokerId" in bad_id.remark

            for body, expected in ((b"{broken", "malformed JSON"), (b"[]", "JSON object")):
                bad_body = await register(
                    client, address, cluster="C", name="b", addr="h:1", body=body
                )
                assert bad_body.code == ResponseCode.SYSTEM_ERROR
                assert bad_body.remark is not None and expected in bad_body.remark

            bad_zlib = await register(
                client,
                address,
                cluster="C",
                name="b",
                addr="h:1",
                body=b"not zlib",
                extra={"compressed": "true"},
            )
            assert bad_zlib.code == ResponseCode.SYSTEM_ERROR
            assert bad_zlib.remark is not None and "zlib" in bad_zlib.remark

            crc = await register(
                client,
                address,
                cluster="C",
                name="b",
                addr="h:1",
                body=topics_body("T"),
                extra={"bodyCrc32": "12345"},
            )
            assert (crc.code, crc.remark) == (ResponseCode.SYSTEM_ERROR, "crc32 not match")

            no_version_body = await call(
                client,
                address,
                RequestCode.QUERY_DATA_VERSION,
                {"brokerName": "b", "brokerAddr": "h:1", "clusterName": "C", "brokerId": "0"},
            )
            assert no_version_body.code == ResponseCode.SYSTEM_ERROR
            bad_route = await call(
                client, address, RequestCode.REGISTER_TOPIC_IN_NAMESRV, {"topic": "X"}, b"{"
            )
            assert bad_route.code == ResponseCode.SYSTEM_ERROR
            no_topic = await call(client, address, RequestCode.GET_ROUTEINFO_BY_TOPIC)
            assert no_topic.code == ResponseCode.SYSTEM_ERROR
            assert no_topic.remark is not None and "topic" in no_topic.remark

            # Garbage on a raw socket closes that connection only.
            loop = asyncio.get_running_loop()
            host, port = address.rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=TIMEOUT) as raw:
                raw.setblocking(False)
                await loop.sock_sendall(raw, b"\xff" * 64)
                data = await asyncio.wait_for(loop.sock_recv(raw, 100), TIMEOUT)
                assert data == b""

            # Nothing was registered by the bad requests, and the server still answers.
            ok = await register(
                client, address, cluster="C", name="b", addr="h:1", body=topics_body("T")
            )
            assert ok.code == ResponseCode.SUCCESS
            assert brokers_of(await route(client, address, "T")) == ["b"]

    run(scenario)


def test_raw_rocketmq_frame_round_trip() -> None:
    """The reference's worked example frame (§1.5a) gets a TOPIC_NOT_EXIST answer."""

    async def scenario() -> None:
        async with namesrvs(1, FakeClock()) as (server,):
            frame = bytes.fromhex(
                "0000002d0100002900690001df0000000300000000000000000000001400"
                "05746f70696300000009546f70696354657374"
            )
            host, port = server.address.rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host, int(port))
            try:
                writer.write(frame)
                decoder = FrameDecoder()
                responses: list[RemotingCommand] = []
                while not responses:
                    chunk = await asyncio.wait_for(reader.read(65536), TIMEOUT)
                    assert chunk, "connection closed without a response"
                    responses = decoder.feed(chunk)
                (response,) = responses
                assert response.opaque == 3 and response.is_response
                assert response.code == ResponseCode.TOPIC_NOT_EXIST
                assert encode_frame(response)[:4] != b""
            finally:
                writer.close()
                await writer.wait_closed()

    run(scenario)


def test_zone_name_and_acting_master_reach_the_route() -> None:
    async def scenario() -> None:
        async with namesrvs(1, FakeClock()) as (server,), RemotingClient() as client:
            extra = {"__ZONE_NAME": "zone-1", "enableActingMaster": "true"}
            await register(
                client,
                server.address,
                cluster="C",
                name="b",
                addr="h:1",
                body=topics_body("T"),
                extra=extra,
            )
            response = await call(client, server.address, 105, {"topic": "T"})
            broker = json.loads(response.body)["brokerDatas"][0]
            assert broker["zoneName"] == "zone-1"
            assert broker["enableActingMaster"] is True

    run(scenario)


def test_periodic_scan_expires_silent_brokers_on_the_real_clock() -> None:
    """The background scan (not only run_once) removes a broker after its timeout."""

    async def scenario() -> None:
        config = NamesrvConfig(port=0, scan_interval=0.05, broker_timeout=0.3)
        async with (
            NamesrvController(config) as server,
            RemotingClient() as broker,
            RemotingClient() as reader,
        ):
            # Expiry closes the broker's channel, so routes are read on a connection of their own:
            # a request in flight on the broker's connection would fail with RemotingClosedError.
            await register(
                broker, server.address, cluster="C", name="b", addr="h:1", body=topics_body("T")
            )
            assert brokers_of(await route(reader, server.address, "T")) == ["b"]

            async def gone() -> bool:
                return await route(reader, server.address, "T") is None

            await wait_until(gone, "the periodic scan to expire the broker")

    run(scenario)
