"""Bridges from rmq to Python frameworks: Flask, Spring-style decorators, Celery, kafka-python.

Each integration lives in its own subpackage and uses only rmq_core's public API.
"""
