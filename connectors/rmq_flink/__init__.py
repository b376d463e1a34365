"""Flink connector for rmq (PyFlink sources and sinks); extra ``rmq[flink]``."""
