"""Shared pytest configuration for rmq's tests."""
