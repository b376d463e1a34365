"""Argument handling of rmq bench producer / consumer / compare and of the workload runner."""

from __future__ import annotations

import socket

import pytest

from bench.compare import CompareSettings, settings_from_args
from bench.consumer import ConsumerOptions
from bench.consumer import options_from_args as consumer_options
from bench.producer import ProducerOptions
from bench.producer import options_from_args as producer_options
from bench.workload import WorkloadParams, parse_options
from bench.workload import build_parser as workload_parser
from rmq_core.cli import build_parser, main


def parse(*argv: str) -> object:
    return build_parser().parse_args(["bench", *argv])


def test_producer_defaults_follow_rocketmq() -> None:
    opts = producer_options(parse("producer"))
    assert opts.size == 128
    assert opts.threads == 64
    assert opts.mode == "sync"
    assert opts.batch_size == 1
    assert opts.in_flight == 1
    assert opts.report_interval == 10.0


def test_producer_options_are_parsed() -> None:
    args = parse(
        "producer",
        "-n",
        "h:1",
        "-t",
        "T",
        "-s",
        "1024",
        "-w",
        "2",
        "-b",
        "16",
        "--window",
        "8",
        "-m",
        "async",
        "--client",
        "raw",
        "-d",
        "5",
        "--messages",
        "100",
        "--report-interval",
        "1",
        "--standalone",
        "--flush",
        "sync",
    )
    opts = producer_options(args)
    assert (opts.namesrv, opts.topic, opts.size, opts.threads) == ("h:1", "T", 1024, 2)
    assert (opts.batch_size, opts.in_flight, opts.client) == (16, 8, "raw")
    assert (opts.duration, opts.messages, opts.report_interval) == (5.0, 100, 1.0)
    assert args.flush == "sync"  # type: ignore[attr-defined]


def test_producer_namesrv_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAMESRV_ADDR", "10.0.0.1:9876")
    assert producer_options(parse("producer")).namesrv == "10.0.0.1:9876"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--flush", "sync"], "add --standalone"),
        (["-s", "4"], "at least 8 bytes"),
        (["-w", "0"], "at least 1"),
        (["-d", "0"], "duration must be positive"),
        (["-m", "oneway", "-b", "4"], "oneway batches need --client raw"),
        (["--report-interval", "0"], "report interval"),
        (["-s", "5000000"], "over RocketMQ's maxMessageSize"),
        (["-s", "1024", "-b", "5000"], "message size x batch size (5120000 bytes)"),
    ],
)
def test_producer_rejects_bad_values(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "producer", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["-m", "fast"], ["--client", "java"], ["-s", "x"]])
def test_producer_rejects_unknown_choices(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "producer", *argv])
    assert exit_info.value.code == 2


def test_profile_broker_without_py_spy_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("bench.profiling.find_py_spy", lambda: None)
    argv = ["bench", "producer", "--standalone", "--profile-broker", "/tmp/p"]
    assert main(argv) == 2
    assert "--profile-broker needs py-spy" in capsys.readouterr().err


@pytest.mark.parametrize("tool", ["producer", "consumer"])
@pytest.mark.parametrize("client", ["full", "raw"])
def test_no_namesrv_is_one_line_and_exit_status_1(
    tool: str, client: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    assert main(["bench", tool, "-n", address, "--client", client, "-d", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"rmq bench {tool}: connect to {address} failed"), err
    assert "Traceback" not in err


def test_consumer_options() -> None:
    opts = consumer_options(
        parse("consumer", "-g", "G", "--from", "first", "--client", "raw", "--pull-batch", "64")
    )
    assert (opts.group, opts.start_from, opts.client, opts.pull_batch) == (
        "G",
        "first",
        "raw",
        64,
    )
    assert opts.threads == 20


@pytest.mark.parametrize(
    "argv, message",
    [(["-d", "-1"], "duration"), (["--messages", "-1"], "messages"), (["-w", "0"], "threads")],
)
def test_consumer_rejects_bad_values(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "consumer", *argv]) == 2
    assert message in capsys.readouterr().err


def test_options_dataclasses_validate() -> None:
    with pytest.raises(ValueError):
        ProducerOptions(mode="x")
    with pytest.raises(ValueError):
        ConsumerOptions(start_from="middle")


def test_compare_settings_from_args() -> None:
    args = parse(
        "compare",
        "--systems",
        "rmq,redis",
        "--workloads",
        "send_sync,consume",
        "--duration",
        "2",
        "--rmq-batch",
        "32",
        "--redis-pipeline",
        "50",
        "--no-plot",
    )
    settings = settings_from_args(args)  # type: ignore[arg-type]
    assert settings.systems == ["rmq", "redis"]
    assert settings.workloads == ["send_sync", "consume"]
    assert settings.workload_args("rmq", "send_pipelined")[:2] == ["--duration", "2.0"]
    assert "--depth" in settings.workload_args("redis", "send_pipelined")
    rmq_args = settings.workload_args("rmq", "send_pipelined")
    assert rmq_args[rmq_args.index("--depth") + 1] == "32"
    e2e = settings.workload_args("rmq", "e2e")
    assert e2e[e2e.index("--duration") + 1] == "10.0"


def test_compare_default_rmq_batch_matches_the_redis_pipeline() -> None:
    settings = settings_from_args(parse("compare"))  # type: ignore[arg-type]
    rmq_args = settings.workload_args("rmq", "send_pipelined")
    redis_args = settings.workload_args("redis", "send_pipelined")
    depth = rmq_args[rmq_args.index("--depth") + 1]
    assert depth == redis_args[redis_args.index("--depth") + 1] == "100"
    assert settings == CompareSettings(workloads=settings.workloads, systems=settings.systems)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--systems", "redis"], "needs rmq"),
        (["--systems", "rmq,kafka"], "unknown system"),
        (["--workloads", "fly"], "unknown workload"),
        (["--workloads", "consume"], "(or send_sync, send_concurrent) before it"),
        (["--workloads", "consume,send_pipelined"], "backlog the send workloads wrote"),
        (["--duration", "0"], "durations must be positive"),
        (["--rmq-window", "0"], "rmq-window"),
        (["--size", "2"], "at least 8 bytes"),
        (["--rounds", "0"], "rounds must be at least 1"),
    ],
)
def test_compare_rejects_bad_values(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    systems = [] if "--systems" in argv else ["--systems", "rmq"]
    assert main(["bench", "compare", *systems, *argv]) == 2
    assert message in capsys.readouterr().err


def test_compare_settings_validate() -> None:
    with pytest.raises(ValueError):
        CompareSettings(rmq_client="java")
    with pytest.raises(ValueError):
        CompareSettings(soak_gib=-1)


def test_workload_params_and_options() -> None:
    params = WorkloadParams(workload="e2e", address="h:1", max_messages=3)
    assert params.limit_reached(3)
    assert not params.limit_reached(2)
    assert not WorkloadParams(workload="e2e", address="h:1").limit_reached(10**9)
    with pytest.raises(ValueError):
        WorkloadParams(workload="nope", address="h:1")
    with pytest.raises(ValueError):
        WorkloadParams(workload="e2e", address="h:1", rate=0)
    assert parse_options(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(ValueError):
        parse_options(["novalue"])
    args = workload_parser().parse_args(["rmq", "consume", "--address", "h:1", "--option", "q=2"])
    assert (args.system, args.workload, args.option) == ("rmq", "consume", ["q=2"])


def test_bench_group_lists_its_tools(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    text = capsys.readouterr().out
    for tool in ("producer", "consumer", "compare", "store"):
        assert tool in text


def test_rmq_driver_e2e_listener_option() -> None:
    from bench.drivers.rmq import RmqDriver

    def driver(**options: str) -> RmqDriver:
        return RmqDriver(WorkloadParams(workload="e2e", address="h:1", options=options))

    assert driver().listener == "async"
    assert driver(listener="thread").listener == "thread"
    with pytest.raises(ValueError, match="listener"):
        driver(listener="fiber")


def test_send_concurrent_workload_and_its_depth() -> None:
    params = WorkloadParams(workload="send_concurrent", address="h:1", depth=4)
    assert params.depth == 4
    with pytest.raises(ValueError, match="depth"):
        WorkloadParams(workload="send_concurrent", address="h:1", depth=0)
    args = workload_parser().parse_args(
        ["redis", "send_concurrent", "--address", "h:1", "--depth", "8"]
    )
    assert (args.workload, args.depth) == ("send_concurrent", 8)


def test_workload_runner_rejects_zero_senders(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.workload import main as workload_main

    with pytest.raises(SystemExit) as exited:
        workload_main(["rmq", "send_concurrent", "--address", "h:1", "--depth", "0"])
    assert exited.value.code == 2
    assert "depth and window must be at least 1" in capsys.readouterr().err


def test_compare_runs_send_concurrent_after_send_sync_with_64_senders() -> None:
    settings = settings_from_args(parse("compare", "--systems", "rmq"))  # type: ignore[arg-type]
    assert settings.workloads[:3] == ["send_sync", "send_concurrent", "send_pipelined"]
    pipelined = {"rmq": "100", "redis": "100", "nats": "1000", "rabbitmq": "256"}
    for system, depth in pipelined.items():
        args = settings.workload_args(system, "send_concurrent")
        assert args[args.index("--depth") + 1] == "64"
        args = settings.workload_args(system, "send_pipelined")
        assert args[args.index("--depth") + 1] == depth
    chosen = parse("compare", "--systems", "rmq", "--workloads", "send_concurrent,consume")
    settings = settings_from_args(chosen)  # type: ignore[arg-type]
    assert settings.workloads == ["send_concurrent", "consume"]


def test_redis_driver_concurrency_option() -> None:
    from bench.drivers.redis_streams import RedisDriver

    def driver(**options: str) -> RedisDriver:
        params = WorkloadParams(workload="send_concurrent", address="h:1", options=options)
        return RedisDriver(params)

    assert driver().concurrency == "asyncio"
    assert driver(concurrency="threads").concurrency == "threads"
    with pytest.raises(ValueError, match="concurrency"):
        driver(concurrency="fibers")
