"""ClusterInfo, the answer to GET_BROKER_CLUSTER_INFO (reference §3.2), for every side.

``{"brokerAddrTable":{name: BrokerData},"clusterAddrTable":{cluster: [broker names]}}``. The
Java NameServer always writes fastjson's default form (``brokerAddrs`` keys bare numbers);
decoding accepts both forms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rmq_core.remoting import fastjson
from rmq_core.remoting.bodies.fields import BodyError, as_map, load_object, str_list
from rmq_core.remoting.bodies.route import BrokerData

__all__ = ["ClusterInfo", "decode_cluster_info", "encode_cluster_info"]


@dataclass(slots=True)
class ClusterInfo:
    """Broker groups by broker name and broker names by cluster."""

    broker_addr_table: dict[str, BrokerData] = field(default_factory=dict)
    cluster_addr_table: dict[str, list[str]] = field(default_factory=dict)

    @property
    def brokers(self) -> dict[str, BrokerData]:
        """``broker name -> BrokerData`` (the ``brokerAddrTable``)."""
        return self.broker_addr_table

    @property
    def clusters(self) -> dict[str, list[str]]:
        """``cluster -> broker names`` (the ``clusterAddrTable``)."""
        return self.cluster_addr_table

    def master_addrs(self, cluster: str | None = None) -> list[str]:
        """Master addresses of ``cluster`` (every cluster when None), sorted by broker name."""
        if cluster is not None:
            names = self.cluster_addr_table.get(cluster, [])
        else:
            names = list(self.broker_addr_table)
        addrs = []
        for name in sorted(names):
            broker = self.broker_addr_table.get(name)
            if broker is not None and broker.master_addr is not None:
                addrs.append(broker.master_addr)
        return addrs


def encode_cluster_info(info: ClusterInfo) -> bytes:
    """Encode ClusterInfo as Java does: fastjson's form, ``brokerAddrs`` keys bare."""
    doc = {
        "brokerAddrTable": {name: data.to_json() for name, data in info.broker_addr_table.items()},
        "clusterAddrTable": {c: list(names) for c, names in info.cluster_addr_table.items()},
    }
    return fastjson.dumps(doc)


def decode_cluster_info(data: bytes) -> ClusterInfo:
    """Parse a ClusterInfo body in either form; raises BodyError when malformed."""
    doc = load_object(data, "ClusterInfo")
    brokers: dict[str, BrokerData] = {}
    for name, obj in as_map(doc, "brokerAddrTable").items():
        brokers[str(name)] = BrokerData.from_json(obj)
    clusters: dict[str, list[str]] = {}
    for cluster, names in as_map(doc, "clusterAddrTable").items():
        if not isinstance(names, list):
            raise BodyError(f"clusterAddrTable[{cluster!r}] must be an array")
        clusters[str(cluster)] = str_list(names, "clusterAddrTable")
    return ClusterInfo(broker_addr_table=brokers, cluster_addr_table=clusters)
