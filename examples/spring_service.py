"""A Spring-style service without Flask: a template and two listeners.

- ``OrderListener`` (a class with ``on_message``) receives ``Order`` dataclasses as JSON and
  publishes a ``Shipment`` for each with the template;
- ``on_shipment`` (a function) receives the shipments as dicts, filtered by tag.

python examples/spring_service.py --namesrv 127.0.0.1:9876 --count 5
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from dataclasses import dataclass

from rmq_integrations.spring import (
    ConsumeMode,
    ListenerContainer,
    RocketMQTemplate,
    rocketmq_message_listener,
)

RUN = f"{os.getpid()}-{time.time_ns() // 1_000_000}"
ORDERS = f"SpringOrders-{RUN}"
SHIPMENTS = f"SpringShipments-{RUN}"


@dataclass
class Order:
    id: int
    customer: str
    items: list[str]


class ShippingService:
    """Shared state of the example: the template and what the listeners saw."""

    template: RocketMQTemplate | None = None
    shipped: list[dict[str, object]] = []
    all_shipped = threading.Event()
    expected = 0


@rocketmq_message_listener(
    topic=ORDERS,
    consumer_group=f"order-service-{RUN}",
    selector_expression="created",
    consume_mode=ConsumeMode.ORDERLY,
)
class OrderListener:
    """rocketmq-spring's ``RocketMQListener<Order>``: one order at a time per queue."""

    def on_message(self, order: Order) -> None:
        print(f"order {order.id} for {order.customer}: {', '.join(order.items)}")
        assert ShippingService.template is not None
        shipment = {"order": order.id, "parcels": len(order.items)}
        ShippingService.template.convert_and_send(f"{SHIPMENTS}:ready", shipment)


@rocketmq_message_listener(
    topic=SHIPMENTS, consumer_group=f"shipment-tracker-{RUN}", selector_expression="ready"
)
def on_shipment(shipment: dict[str, object]) -> None:
    print(f"shipment ready: order {shipment['order']}, {shipment['parcels']} parcel(s)")
    ShippingService.shipped.append(shipment)
    if len(ShippingService.shipped) >= ShippingService.expected:
        ShippingService.all_shipped.set()


def main() -> int:
    parser = argparse.ArgumentParser(description="A template and two listeners, Spring style.")
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--count", type=int, default=5, help="orders to place")
    parser.add_argument("--timeout", type=float, default=30.0, help="give up after seconds")
    args = parser.parse_args()
    ShippingService.expected = args.count

    fast = {"rebalance_interval": 1.0}  # notice new topics quickly (default 20 s)
    with (
        RocketMQTemplate(args.namesrv, "spring-example-producer") as template,
        ListenerContainer(args.namesrv, consumer_options=fast) as container,
    ):
        ShippingService.template = template
        container.register(OrderListener)
        container.register(on_shipment)
        for i in range(args.count):
            order = Order(i, f"customer-{i % 2}", [f"item-{j}" for j in range(i % 3 + 1)])
            result = template.sync_send_orderly(f"{ORDERS}:created", order, order.customer)
            print(
                f"placed order {i}: {result.status.value} on queue {result.message_queue.queue_id}"
            )
        ShippingService.all_shipped.wait(args.timeout)
    ok = len(ShippingService.shipped) >= args.count
    print(f"{len(ShippingService.shipped)}/{args.count} shipments: {'OK' if ok else 'MISSING'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
