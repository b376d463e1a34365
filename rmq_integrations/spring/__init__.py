"""Spring-Messaging-style API for rmq (rocketmq-spring's annotations and template), no Flask.

::

    from rmq_integrations.spring import (
        ListenerContainer, RocketMQTemplate, rocketmq_message_listener,
    )

    @rocketmq_message_listener(topic="Orders", consumer_group="order-service")
    def on_order(order: Order) -> None:        # JSON body → Order dataclass
        ...

    with RocketMQTemplate("127.0.0.1:9876", "order-producer") as template, \\
            ListenerContainer("127.0.0.1:9876") as container:
        container.register(on_order)
        template.convert_and_send("Orders:created", Order(id=1))

See docs/spring.md for the mapping from rocketmq-spring names. Needs ``blinker`` (the
``rmq[flask]`` extra) for the signals of :mod:`rmq_integrations.signals`.
"""

from rmq_core import MessageModel
from rmq_integrations.spring.annotations import (
    ConsumeMode,
    ListenerSpec,
    SelectorType,
    listener_specs,
    rocketmq_message_listener,
)
from rmq_integrations.spring.container import ListenerContainer, RegisteredListener
from rmq_integrations.spring.converters import (
    DEFAULT_CONVERTERS,
    BytesMessageConverter,
    CompositeMessageConverter,
    JsonMessageConverter,
    MessageConverter,
    StringMessageConverter,
    default_converter,
)
from rmq_integrations.spring.errors import ListenerDeclarationError, MessageConversionError
from rmq_integrations.spring.messaging import (
    Destination,
    GenericMessage,
    MessageBuilder,
    RocketMQHeaders,
    parse_destination,
)
from rmq_integrations.spring.template import RocketMQTemplate
from rmq_integrations.spring.transaction import (
    RocketMQLocalTransactionState,
    rocketmq_transaction_listener,
)

__all__ = [
    "DEFAULT_CONVERTERS",
    "BytesMessageConverter",
    "CompositeMessageConverter",
    "ConsumeMode",
    "Destination",
    "GenericMessage",
    "JsonMessageConverter",
    "ListenerContainer",
    "ListenerDeclarationError",
    "ListenerSpec",
    "MessageBuilder",
    "MessageConversionError",
    "MessageConverter",
    "MessageModel",
    "RegisteredListener",
    "RocketMQHeaders",
    "RocketMQLocalTransactionState",
    "RocketMQTemplate",
    "SelectorType",
    "StringMessageConverter",
    "default_converter",
    "listener_specs",
    "parse_destination",
    "rocketmq_message_listener",
    "rocketmq_transaction_listener",
]
