"""rmq_core.filter."""
