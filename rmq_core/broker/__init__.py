"""rmq_core.broker."""
