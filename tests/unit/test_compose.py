"""docker-compose.yml: the services, their settings and the README's commands.

No Docker engine runs here, so the file is parsed and checked, not started.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def command(service: dict[str, Any]) -> str:
    value = service["command"]
    return value if isinstance(value, str) else " ".join(value)


def test_services() -> None:
    assert set(compose()["services"]) == {
        "redis", "scheduler", "worker", "flower", "metrics", "console",
    }  # fmt: skip


def test_redis_has_aof_noeviction_and_a_password() -> None:
    redis = compose()["services"]["redis"]
    cmd = command(redis)
    assert "--appendonly yes" in cmd
    assert "--maxmemory-policy noeviction" in cmd
    assert "--requirepass" in cmd
    assert "redis-data:/data" in redis["volumes"]


def test_processes_use_the_readme_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    services = compose()["services"]
    expected = {
        "scheduler": "celery -A worker beat",
        "worker": "celery -A worker worker",
        "flower": "celery -A worker flower",
        "console": "flyte-celery console",
        "metrics": "flyte-celery metrics",
    }
    for name, start in expected.items():
        assert command(services[name]).startswith(start), name
        assert start in readme, f"the README does not document {start!r}"


def test_workers_scale_and_share_storage_with_the_scheduler() -> None:
    services = compose()["services"]
    worker = services["worker"]
    assert "container_name" not in worker  # a fixed name would forbid --scale
    assert worker["deploy"]["replicas"] >= 1
    assert services["scheduler"]["deploy"]["replicas"] == 2  # leader and standby
    for name in ("scheduler", "worker", "flower", "console"):
        service = services[name]
        assert "storage:/data" in service["volumes"], name
        env = service["environment"]
        assert env["FLYTE_CELERY_STORAGE"] == "file:///data/storage"
        assert env["FLYTE_CELERY_REDIS_URL"] == "redis://redis:6379/0"
        # The password apart: flyte-celery escapes it into the URL, whatever it holds.
        assert env["FLYTE_CELERY_REDIS_PASSWORD"] == "${REDIS_PASSWORD:-change-me}"


def test_flower_has_basic_auth() -> None:
    assert "--basic-auth=" in command(compose()["services"]["flower"])


def test_redis_password_is_shared() -> None:
    services = compose()["services"]
    password = "${REDIS_PASSWORD:-change-me}"
    assert password in command(services["redis"])
    assert services["worker"]["environment"]["FLYTE_CELERY_REDIS_PASSWORD"] == password


def test_every_service_has_a_health_check() -> None:
    for name, service in compose()["services"].items():
        assert service.get("healthcheck", {}).get("test"), name


def test_the_host_reaches_redis_and_the_workers_import_user_code() -> None:
    services = compose()["services"]
    assert "127.0.0.1:${REDIS_PORT:-6379}:6379" in services["redis"]["ports"]
    for name in ("scheduler", "worker", "metrics"):
        service = services[name]
        assert "${USER_CODE:-user-code}:/app/user_code:ro" in service["volumes"], name
        assert service["environment"]["PYTHONPATH"] == "/app/user_code"
    assert "user-code" in compose()["volumes"]


def test_a_password_with_url_characters_reaches_redis_intact() -> None:
    import redis
    from kombu import Connection

    from scheduler.settings import Settings

    settings = Settings(redis_url="redis://redis:6379/0", redis_password="p@ss/w:rd%")
    client = redis.Redis.from_url(settings.redis_url)
    assert client.connection_pool.connection_kwargs["password"] == "p@ss/w:rd%"
    assert client.connection_pool.connection_kwargs["host"] == "redis"
    broker = Connection(settings.broker)  # Celery's broker connection reads it too
    assert (broker.hostname, broker.password) == ("redis", "p@ss/w:rd%")


def test_the_console_is_on_the_hosts_loopback_and_links_to_flower() -> None:
    console = compose()["services"]["console"]
    assert console["ports"] == ["127.0.0.1:${CONSOLE_PORT:-8008}:8008"]
    env = console["environment"]
    assert env["FLYTE_CELERY_CONSOLE_USERS"] == "${CONSOLE_USERS:-}"  # read-only unless set
    assert env["FLYTE_CELERY_FLOWER_URL"].startswith("${FLOWER_PUBLIC_URL:-http://")
    assert env["FLYTE_CELERY_REDIS_PASSWORD"] == "${REDIS_PASSWORD:-change-me}"  # merged in
    assert "/healthz" in " ".join(console["healthcheck"]["test"])


def test_each_scheduler_and_worker_container_serves_its_own_process_metrics() -> None:
    services = compose()["services"]
    for name in ("scheduler", "worker"):
        service = services[name]
        env = service["environment"]
        # A directory of its own on a tmpfs: pids repeat across containers.
        assert env["PROMETHEUS_MULTIPROC_DIR"] in service["tmpfs"], name
        assert env["FLYTE_CELERY_METRICS_PORT"] == "9809", name
        assert env["FLYTE_CELERY_METRICS_HOST"] == "0.0.0.0", name
        assert env["FLYTE_CELERY_REDIS_URL"] == "redis://redis:6379/0", name  # merged in
        # A health check is a Python process too: without the variable, it leaves no files.
        check = " ".join(service["healthcheck"]["test"][1:])
        assert check.startswith("env -u PROMETHEUS_MULTIPROC_DIR "), name
    scrape = yaml.safe_load((ROOT / "docs" / "prometheus.yml").read_text())["scrape_configs"]
    targets = {c["job_name"]: c for c in scrape}
    assert targets["flyte-celery-deployment"]["static_configs"][0]["targets"] == ["metrics:9808"]
    processes = targets["flyte-celery-processes"]["dns_sd_configs"][0]
    assert (set(processes["names"]), processes["port"]) == ({"scheduler", "worker"}, 9809)


def test_the_cluster_variant_puts_the_state_on_a_cluster_and_the_broker_beside_it() -> None:
    from scheduler import Settings

    data = yaml.safe_load((ROOT / "docs" / "docker-compose.cluster.yml").read_text())
    services = data["services"]
    nodes = [name for name in services if name.startswith("redis-")]
    assert len(nodes) == 6 and "--cluster-replicas 1" in command(services["cluster-init"])
    for name in ("scheduler", "worker", "metrics", "console", "flower"):
        env = services[name]["environment"]
        settings = Settings.load(
            redis_url=env["FLYTE_CELERY_REDIS_URL"],
            broker_url=env["FLYTE_CELERY_BROKER_URL"],
            shards=int(env["FLYTE_CELERY_SHARDS"]),
        )
        assert settings.redis_url.startswith("redis+cluster://") and settings.shards > 1
        assert set(compose()["services"]) >= {name, "redis"}  # the base file's broker
