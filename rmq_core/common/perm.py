"""Topic and broker permission bits (RocketMQ's ``PermName``), shared by every component.

``perm`` values are small bit sets: 2 write, 4 read, 1 inherit (a template topic such as
TBW102 whose settings auto-created topics copy), 8 priority. Usual values: 6 RW, 7 RW+inherit.
"""

from __future__ import annotations

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

PERM_PRIORITY = 0x8
PERM_READ = 0x4
PERM_WRITE = 0x2
PERM_INHERIT = 0x1
PERM_READ_WRITE = PERM_READ | PERM_WRITE


def is_readable(perm: int) -> bool:
    """True when ``perm`` grants reading (pulls)."""
    return bool(perm & PERM_READ)


def is_writeable(perm: int) -> bool:
    """True when ``perm`` grants writing (sends)."""
    return bool(perm & PERM_WRITE)


def is_inherited(perm: int) -> bool:
    """True when a topic with ``perm`` may serve as the template of auto-created topics."""
    return bool(perm & PERM_INHERIT)


def perm_to_string(perm: int) -> str:
    """``RWX``-style text as mqadmin prints it (``R``/``W``/``X`` or ``-``)."""
    return (
        ("R" if perm & PERM_READ else "-")
        + ("W" if perm & PERM_WRITE else "-")
        + ("X" if perm & PERM_INHERIT else "-")
    )
