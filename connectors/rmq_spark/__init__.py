"""Spark connector for rmq (PySpark Python Data Source named ``rocketmq``); extra ``rmq[spark]``."""
