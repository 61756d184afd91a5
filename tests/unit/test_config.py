from pathlib import Path

import pytest

from flink_agents.config import load_settings
from flink_agents.errors import ConfigError


def test_defaults_point_at_the_local_stack():
    settings = load_settings(environ={}, file=None)
    assert settings.bootstrap_servers == "127.0.0.1:9092"
    assert settings.flink.rest_url == "http://127.0.0.1:8081"
    assert settings.runtime.execution_mode == "thread"


def test_file_then_environment_then_overrides(tmp_path: Path):
    file = tmp_path / "flink-agents.yaml"
    file.write_text("kafka:\n  port: 1000\n  heap: 1g\nflink:\n  rest_port: 2000\n")
    env = {"FLINK_AGENTS_KAFKA__PORT": "3000"}

    settings = load_settings({"flink": {"rest_port": 4000}}, environ=env, file=file)

    assert settings.kafka.port == 3000  # environment beats file
    assert settings.kafka.heap == "1g"  # file beats default
    assert settings.flink.rest_port == 4000  # override beats file


def test_runtime_bootstrap_servers_beat_the_local_broker():
    env = {"FLINK_AGENTS_RUNTIME__BOOTSTRAP_SERVERS": "kafka.prod:9092"}
    assert load_settings(environ=env, file=None).bootstrap_servers == "kafka.prod:9092"


def test_invalid_value_names_the_field_and_the_file(tmp_path: Path):
    file = tmp_path / "flink-agents.yaml"
    file.write_text("kafka:\n  port: many\n")
    with pytest.raises(ConfigError, match=r"flink-agents.yaml.*kafka\.port"):
        load_settings(environ={}, file=file)


def test_unknown_setting_is_rejected_not_ignored():
    with pytest.raises(ConfigError, match=r"kafka\.prot: Extra inputs"):
        load_settings(environ={"FLINK_AGENTS_KAFKA__PROT": "1"}, file=None)


def test_config_file_named_by_environment_must_exist():
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(environ={"FLINK_AGENTS_CONFIG": "/nonexistent/flink-agents.yaml"})


def test_cluster_target_is_host_and_port_from_the_environment():
    env = {"FLINK_AGENTS_CLUSTER__TARGET": "http://flink.internal:8081/"}
    cluster = load_settings(environ=env, file=None).cluster
    assert cluster.target == "flink.internal:8081"
    assert cluster.rest_url == "http://flink.internal:8081"


@pytest.mark.parametrize("target", ["flink.internal", "https://flink.internal:8081", ":8081"])
def test_a_cluster_target_without_host_and_port_names_the_form(target: str):
    with pytest.raises(ConfigError, match=r"cluster\.target: .*HOST:PORT"):
        load_settings(environ={"FLINK_AGENTS_CLUSTER__TARGET": target}, file=None)


def test_a_job_built_for_a_cluster_with_the_jars_downloads_none(tmp_path: Path):
    from flink_agents.runtime import job_configuration

    settings = load_settings(
        {"cache": str(tmp_path / "empty"), "maven_url": "http://127.0.0.1:9/nothing"},
        environ={"FLINK_AGENTS_RUNTIME__SHIP_JARS": "false"},
        file=None,
    )
    conf = job_configuration(settings, "job", [])
    assert conf.get_string("pipeline.jars", "") == ""
    assert not (tmp_path / "empty").exists()


def test_producer_compression_is_one_kafka_knows():
    env = {"FLINK_AGENTS_RUNTIME__PRODUCER_COMPRESSION": "lz4"}
    assert load_settings(environ=env, file=None).runtime.producer_compression == "lz4"
    with pytest.raises(ConfigError, match=r"runtime\.producer_compression"):
        load_settings(environ={"FLINK_AGENTS_RUNTIME__PRODUCER_COMPRESSION": "brotli"}, file=None)


def test_the_events_log_keeps_every_step_unless_told_to_keep_results_only():
    assert load_settings(environ={}, file=None).runtime.events_log == "full"
    env = {"FLINK_AGENTS_RUNTIME__EVENTS_LOG": "results"}
    assert load_settings(environ=env, file=None).runtime.events_log == "results"
    with pytest.raises(ConfigError, match=r"runtime\.events_log: .*'full' or 'results'"):
        load_settings(environ={"FLINK_AGENTS_RUNTIME__EVENTS_LOG": "none"}, file=None)
