#!/usr/bin/env bash
# Set up and run every test: unit, both databases (SQLite and PostgreSQL), AppTest, browser, benchmarks at
# tiny size. Outside CI a missing PostgreSQL or Chromium is reported as a skip; with CI=true it fails.
# Extra arguments go to pytest (e.g. ./test.sh tests/unit -x).
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "The tests need Python 3.11 or newer; '$PYTHON' is $("$PYTHON" --version 2>&1 || echo missing)." >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.synapse-test-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Installing Synapse with its test dependencies ..."
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[test]'
    echo "$want" > "$stamp"
fi

if [ "${CI:-}" = "true" ]; then
    echo "Strict mode (CI=true): a missing PostgreSQL or Chromium fails the run."
fi
# -rs prints every skip with its reason at the end.
exec .venv/bin/python -m pytest -rs "$@"
