from rmq_core.errors import (
    BrokerError,
    FilterError,
    RemotingError,
    RequestTimeoutError,
    RocketMQError,
    SystemBusyError,
    TopicNotExistError,
)


def test_for_code_picks_subclass_and_retriable_flag() -> None:
    error = BrokerError.for_code(17, "No topic route info", context="topic=T")
    assert isinstance(error, TopicNotExistError)
    assert error.code == 17
    assert error.retriable
    assert "topic=T" in str(error)
    assert isinstance(BrokerError.for_code(2, "busy"), SystemBusyError)


def test_unknown_code_is_plain_broker_error_not_retriable() -> None:
    error = BrokerError.for_code(23, "bad sql")
    assert type(error) is BrokerError
    assert not error.retriable


def test_timeout_is_builtin_timeout_and_remoting_error() -> None:
    error = RequestTimeoutError("no answer")
    assert isinstance(error, TimeoutError)
    assert isinstance(error, RemotingError)
    assert isinstance(error, RocketMQError)
    assert error.retriable


def test_filter_error_names_position() -> None:
    error = FilterError("unexpected token ')'", expression="a > )", position=4)
    assert error.position == 4
    assert "position 4" in str(error)
