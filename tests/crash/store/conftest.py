"""Fixtures for the store tests: the shared tiny-file store fixtures."""

from tests.support.store_fixtures import MakeMessage, make_message, open_store, tiny_config

__all__ = ["MakeMessage", "make_message", "open_store", "tiny_config"]
