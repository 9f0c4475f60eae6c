"""No Docker engine runs here: parse the compose file and check it against the project."""

from pathlib import Path

import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def test_compose_has_the_production_services_and_their_commands_exist():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "beat", "push"}
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("web", "worker", "beat", "push"):
        svc = services[name]
        assert svc["build"] == "."
        assert svc["env_file"] == ".env"
        # migrations (and the RLS policies) first, as the owner; these connect as the application role
        assert set(svc["depends_on"]) == {"postgres", "redis", "migrate"}
        assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "DATABASE_OWNER_URL" not in svc.get("environment", {})
        # a worker whose broker vanished exits ("Unrecoverable error"): the supervisor restarts it
        assert svc["restart"] == "unless-stopped"
    assert "--appendonly" in services["redis"]["command"]
    assert any(v.endswith(":/data") for v in services["redis"]["volumes"])  # the AOF outlives the container
    assert services["migrate"]["command"][1:3] == ["manage.py", "migrate"]
    assert "DATABASE_OWNER_URL" in services["migrate"]["environment"]
    assert "gunicorn oms.wsgi:application" in " ".join(services["web"]["command"])
    assert services["worker"]["command"][:3] == ["celery", "-A", "oms"] and "worker" in services["worker"]["command"]
    assert "beat" in services["beat"]["command"]
    from django.core.management import get_commands

    assert services["push"]["command"][2] in get_commands()
    # what the commands refer to exists
    from oms import celery, wsgi  # noqa: F401

    assert (ROOT / "manage.py").exists()


def test_dockerfile_installs_the_cjk_font_and_harfbuzz_and_copies_every_app():
    text = (ROOT / "Dockerfile").read_text()
    for pkg in ("fonts-wqy-microhei", "libharfbuzz-subset0", "libpango-1.0-0"):
        assert pkg in text
    for app in ("oms", "channels", "orders", "inventory", "logistics", "notifications", "templates", "locale"):
        assert f"COPY {app} {app}" in text
        assert (ROOT / app).is_dir()


def test_env_example_names_every_setting_the_settings_read():
    names = {line.split("=")[0] for line in (ROOT / ".env.example").read_text().splitlines()
             if line and not line.startswith("#")}
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "OMS_CREDENTIALS_KEY", "DEBUG", "ALLOWED_HOSTS"} <= names


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, DEBUG="0", SECRET_KEY="x" * 20 + "-production-secret-key-with-enough-entropy-0123456789",
               ALLOWED_HOSTS="oms.example.com", DJANGO_SETTINGS_MODULE="oms.settings", OMS_VAR_DIR=str(tmp_path))
    for leaked in ("PYTEST_XDIST_WORKER", "DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_URL", "REDIS_URL"):
        env.pop(leaked, None)  # test-process settings (e.g. the browser tests allow async-unsafe ORM calls)
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
