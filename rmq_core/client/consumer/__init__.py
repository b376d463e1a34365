"""Consumers: push (listener driven) and lite pull (application polls)."""
