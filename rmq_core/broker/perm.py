"""Topic and broker permission bits: the broker's name for :mod:`rmq_core.common.perm`.

The bits and helpers are defined once, in :mod:`rmq_core.common.perm`; broker modules keep
importing them from here.
"""

from __future__ import annotations

from rmq_core.common.perm import (
    PERM_INHERIT,
    PERM_PRIORITY,
    PERM_READ,
    PERM_READ_WRITE,
    PERM_WRITE,
    is_inherited,
    is_readable,
    is_writeable,
    perm_to_string,
)

__all__ = [
    "PERM_INHERIT",
    "PERM_PRIORITY",
    "PERM_READ",
    "PERM_READ_WRITE",
    "PERM_WRITE",
    "is_inherited",
    "is_readable",
    "is_writeable",
    "perm_to_string",
]
