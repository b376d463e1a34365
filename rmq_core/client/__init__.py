"""rmq_core.client."""
