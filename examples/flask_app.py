r"""A Flask app that publishes orders from a view and consumes them in a decorated handler.

Run it as a bounded demo (posts orders through the test client, waits for the handler)::

    python examples/flask_app.py --namesrv 127.0.0.1:9876 --count 5

or as a real app and worker (the factory reads FLASK_-prefixed environment variables, e.g.
FLASK_ROCKETMQ_NAMESRV_ADDR=127.0.0.1:9876)::

    flask --app examples/flask_app.py run                      # POST /orders {"item": "book"}
    flask --app examples/flask_app.py rocketmq consume         # runs handle_order until SIGTERM
    flask --app examples/flask_app.py rocketmq send ExampleOrders:created '{"id": 1, "item": "x"}' \
        --json

The topic can be changed with EXAMPLE_ORDERS_TOPIC (the tests use a fresh one per run).
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request

from rmq_integrations.flask import RocketMQ

TOPIC = os.environ.get("EXAMPLE_ORDERS_TOPIC", "ExampleOrders")
GROUP = f"{TOPIC}-handler"


@dataclass
class Order:
    """The message payload: sent and received as JSON."""

    id: int
    item: str
    quantity: int = 1


mq = RocketMQ()
_ids = itertools.count(os.getpid() * 1000 + 1)  # ids distinct between runs


@mq.listener(TOPIC, GROUP, tags="created")
def handle_order(order: Order) -> None:
    """Runs in a consumer thread inside an app context: ``current_app`` is the app."""
    print(f"handled order {order.id} ({order.item} x{order.quantity}) in app {current_app.name}")
    received: list[Order] = current_app.extensions["example_orders"]
    received.append(order)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The app factory: config from FLASK_* environment variables, then ``config``."""
    app = Flask(__name__)
    app.config.from_prefixed_env()
    app.config.update(config or {})
    app.extensions["example_orders"] = []
    mq.init_app(app)

    @app.post("/orders")
    def create_order() -> tuple[dict[str, Any], int]:
        data = request.get_json(force=True)
        order = Order(id=int(data.get("id") or next(_ids)), item=str(data["item"]))
        result = mq.send(f"{TOPIC}:created", order, keys=[f"order-{order.id}"])
        return {"id": order.id, "msg_id": result.msg_id, "status": result.status.value}, 201

    return app


def main() -> int:
    parser = argparse.ArgumentParser(description="Publish from a Flask view, consume in a handler.")
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--count", type=int, default=5, help="orders to post")
    parser.add_argument("--timeout", type=float, default=30.0, help="give up after seconds")
    args = parser.parse_args()

    app = create_app(
        {
            "ROCKETMQ_NAMESRV_ADDR": args.namesrv,
            # pick up a new topic's queues quickly (the default rebalance period is 20 s)
            "ROCKETMQ_CONSUMER_OPTIONS": {"rebalance_interval": 1.0},
        }
    )
    received: list[Order] = app.extensions["example_orders"]
    mq.start_listeners(app)
    try:
        client = app.test_client()
        posted = []
        for i in range(args.count):
            response = client.post("/orders", json={"item": f"item-{i}"})
            assert response.status_code == 201, response.get_data(as_text=True)
            posted.append(response.get_json()["id"])
            print(f"posted order {posted[-1]}: {response.get_json()['status']}")
        deadline = time.monotonic() + args.timeout
        while not {o.id for o in received} >= set(posted) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        mq.shutdown(app)
    ok = {o.id for o in received} >= set(posted)
    print(f"handled {len(received)}/{len(posted)} orders: {'OK' if ok else 'MISSING'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
