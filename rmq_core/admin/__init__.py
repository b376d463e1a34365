"""rmq_core.admin."""
