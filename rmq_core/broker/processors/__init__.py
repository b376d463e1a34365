"""Request processors of the broker, one module per area.

Each processor is a small class built from a :class:`~rmq_core.broker.context.BrokerContext`
exposing ``async __call__(request, connection) -> RemotingCommand | None`` (the remoting
``Processor`` type) and a ``codes`` tuple of the request codes it serves.
"""
