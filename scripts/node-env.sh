#!/usr/bin/env bash
# Installs (once) the npm packages of tests/sdkapps/js (the official StateFun
# JavaScript SDK, apache-flink-statefun 3.3.0, pinned by its
# package-lock.json) into $SF_CACHE/node-sdkapps (default .cache/) and
# prints that node_modules path on stdout, for NODE_PATH. Idempotent: reuses
# the install while package.json and package-lock.json are unchanged.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cache="${SF_CACHE:-$root/.cache}"
app="$root/tests/sdkapps/js"
dir="$cache/node-sdkapps"
stamp="$dir/.lock.sha256"
want="$(cat "$app/package.json" "$app/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [ -d "$dir/node_modules/apache-flink-statefun" ] && [ -f "$stamp" ] &&
   [ "$(cat "$stamp")" = "$want" ]; then
  echo "$dir/node_modules"
  exit 0
fi
# Tests that run side by side may all get here on a fresh machine: one
# installs, the others wait for it and reuse the result.
mkdir -p "$cache"
exec 9>"$cache/node-sdkapps.lock"
flock 9
if [ -d "$dir/node_modules/apache-flink-statefun" ] && [ -f "$stamp" ] &&
   [ "$(cat "$stamp")" = "$want" ]; then
  echo "$dir/node_modules"
  exit 0
fi
command -v npm >/dev/null ||
  { echo "node-env: npm not found (scripts/install-deps.sh installs nodejs and npm)" >&2; exit 1; }
echo "node-env: installing the official StateFun JavaScript SDK into $dir" >&2
rm -rf "$dir"
mkdir -p "$dir"
cp "$app/package.json" "$app/package-lock.json" "$dir/"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
echo "$want" > "$stamp"
echo "$dir/node_modules"
