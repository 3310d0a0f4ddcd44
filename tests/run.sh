#!/usr/bin/env bash
# The project's one test command (the README gives it; .ci/run calls it).
#
# On a fresh machine it first installs what the tests need: through ./flyte-celery,
# redis-server (apt-get, when missing) and a virtualenv with flyte-celery and its dev
# extra; here, RabbitMQ (the integration flows run on it too), installed with apt-get and
# started when nothing listens on 127.0.0.1:5672; and Debian's chromium and
# chromium-driver for the console's browser tests. Arguments go to pytest.
# FLYTE_CELERY_VENV picks the virtualenv (default .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
FLYTE_CELERY_SETUP_ONLY=1 ./flyte-celery

amqp_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
if ! amqp_up; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    echo "tests: installing rabbitmq-server" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq rabbitmq-server >/dev/null
  fi
  if ! amqp_up; then
    echo "tests: starting rabbitmq-server" >&2
    $sudo service rabbitmq-server start >/dev/null 2>&1 || $sudo rabbitmq-server -detached >/dev/null 2>&1 || true
  fi
  for _ in $(seq 1 120); do amqp_up && break; sleep 1; done
  amqp_up || { echo "tests: RabbitMQ did not start on 127.0.0.1:5672" >&2; exit 1; }
fi
# The console's tests run in a real headless browser: Debian's chromium and its driver.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "tests: installing chromium and chromium-driver" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi
exec "${FLYTE_CELERY_VENV:-.venv}/bin/python" -m pytest "$@"
