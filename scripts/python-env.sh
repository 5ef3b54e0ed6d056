#!/usr/bin/env bash
# Creates (once) the Python venv with the official StateFun SDK and prints
# its python path on stdout. Idempotent: reuses the venv when the
# requirements have not changed. Location: $SF_CACHE/venv (default .cache/).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cache="${SF_CACHE:-$root/.cache}"
venv="$cache/venv"
req="$here/requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$venv/bin/python"
  exit 0
fi
mkdir -p "$cache"
# Tests that run side by side may all get here on a fresh machine: one
# creates the venv, the others wait for it and reuse it.
exec 9>"$cache/venv.lock"
flock 9
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$venv/bin/python"
  exit 0
fi
echo "python-env: creating $venv (official StateFun SDK 3.3.0)" >&2
python3 -m venv "$venv" >&2
"$venv/bin/pip" install -q --disable-pip-version-check -r "$req" >&2
echo "$want" > "$stamp"
echo "$venv/bin/python"
