"""Small building blocks shared by every layer of rmq (no I/O, no third-party imports)."""
