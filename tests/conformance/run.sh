#!/usr/bin/env bash
# Runs the conformance suite: $1 is the conformance_fn binary. The Python
# venv with the official SDK is created on first use (idempotent).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fn="${1:?usage: run.sh path/to/conformance_fn [driver options]}"
shift
py="$(bash "$here/../../scripts/python-env.sh")"
exec "$py" "$here/run_conformance.py" --fn "$fn" "$@"
