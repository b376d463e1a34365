"""rmq_core.store."""
