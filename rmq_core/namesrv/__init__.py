"""The NameServer: broker registry and topic routes (``rmq namesrv``).

:class:`NamesrvController` runs one NameServer on a :class:`NamesrvConfig`;
:class:`RouteInfoManager` is its routing state, usable without any I/O.
"""

from rmq_core.namesrv.config import NamesrvConfig, NamesrvConfigError
from rmq_core.namesrv.controller import NamesrvController
from rmq_core.namesrv.route_info import BrokerRegistration, RegisterBrokerResult, RouteInfoManager

__all__ = [
    "BrokerRegistration",
    "NamesrvConfig",
    "NamesrvConfigError",
    "NamesrvController",
    "RegisterBrokerResult",
    "RouteInfoManager",
]
