"""rmq's benchmark workloads, behind ``rmq bench``.

``rmq bench producer`` / ``rmq bench consumer`` (:mod:`bench.producer`, :mod:`bench.consumer`)
are modelled on RocketMQ's own benchmark tools and print the same columns; ``rmq bench compare``
(:mod:`bench.compare`) runs the same workloads against rmq and its peers (Redis Streams, NATS
JetStream, RabbitMQ) on loopback and reports each figure with the rmq/peer ratio. See
docs/benchmarks.md.
"""
