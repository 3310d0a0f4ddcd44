#!/usr/bin/env bash
# The project's one test command (the README gives it; .ci/run calls it).
#
# On a fresh machine it first installs what the tests need, through ./flyte-celery:
# redis-server (apt-get, when missing) and a virtualenv with flyte-celery and its dev
# extra. Arguments go to pytest. FLYTE_CELERY_VENV picks the virtualenv (default .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
FLYTE_CELERY_SETUP_ONLY=1 ./flyte-celery
exec "${FLYTE_CELERY_VENV:-.venv}/bin/python" -m pytest "$@"
