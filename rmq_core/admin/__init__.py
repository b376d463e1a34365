"""Administration: topics, routes, cluster layout and consumer progress."""

from rmq_core.admin.client import AdminClient, ClusterInfo, ConsumerProgress, QueueProgress

__all__ = ["AdminClient", "ClusterInfo", "ConsumerProgress", "QueueProgress"]
