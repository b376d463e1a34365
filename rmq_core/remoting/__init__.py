"""rmq_core.remoting."""
