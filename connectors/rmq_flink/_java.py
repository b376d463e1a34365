"""Access to the connector's Java classes through PyFlink's gateway, with clear errors."""

from __future__ import annotations

from typing import Any

from rmq_flink.errors import RocketMQFlinkError, RocketMQOptionError

__all__ = ["java_class", "java_error_message", "validate_topics"]

PACKAGE = "org.rmq.flink"


def java_class(name: str) -> Any:
    """The Java class ``org.rmq.flink.<name>``; a clear error when the jar is not loaded."""
    from py4j.protocol import Py4JJavaError
    from pyflink.java_gateway import get_gateway
    from pyflink.util.java_utils import load_java_class

    try:
        load_java_class(f"{PACKAGE}.{name}")
    except Py4JJavaError:
        raise RocketMQFlinkError(
            "the rmq_flink connector jar is not loaded: call "
            "rmq_flink.add_connector_jar(env) before building sources or sinks"
        ) from None
    target: Any = get_gateway().jvm
    for part in f"{PACKAGE}.{name}".split("."):
        target = getattr(target, part)
    return target


def java_error_message(exc: BaseException) -> str:
    """The Java exception's own message for a Py4JJavaError, else ``str(exc)``."""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        message = java.getMessage()
        if message:
            return str(message)
    return str(exc)


def validate_topics(namesrv: str, topics: list[str], *, for_write: bool, timeout_ms: int) -> None:
    """Raise RocketMQOptionError unless the NameServer answers and the topics exist."""
    problem = java_class("Validation").checkTopics(
        namesrv, "\n".join(topics), for_write, int(timeout_ms)
    )
    if problem is not None:
        option, _, message = str(problem).partition("\t")
        raise RocketMQOptionError(option, message)
