"""rmq_core.namesrv."""
