#!/usr/bin/env bash
# The project's one test command (the README gives it, .ci/run calls it).
#
# On a fresh machine it first installs what the tests need: redis-server (apt-get, when
# missing) and a virtualenv with flyte-celery and its dev extra. Arguments go to pytest.
# FLYTE_CELERY_VENV picks the virtualenv (default .venv); FLYTE_CELERY_SETUP_ONLY=1 stops
# after the set-up.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
  echo "tests/run.sh: installing redis-server" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "tests/run.sh: flyte-celery needs Python >= 3.11; $python is $("$python" --version 2>&1)" >&2
  exit 2
fi

venv=${FLYTE_CELERY_VENV:-.venv}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
# Reinstall only when the dependencies changed.
stamp="$venv/.flyte-celery-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -e ".[dev,s3]"
  touch "$stamp"
fi

[ "${FLYTE_CELERY_SETUP_ONLY:-0}" = 1 ] && exit 0
exec "$venv/bin/python" -m pytest "$@"
