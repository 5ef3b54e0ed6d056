#!/usr/bin/env bash
# Writes deploy/compose/module.yaml, the module docker-compose.yml mounts
# into the StateFun master and worker, with sf-modgen. The file is generated,
# never committed (see .gitignore here); run this before `docker compose up`.
#
# The names match docker-compose.yml: the function server is the service
# `greeter` on port 8000, Kafka is `kafka:9092`; topic `names` feeds
# greeter.fns/greet (record key = the person's name) and the greeter writes
# to egress greeter.io/greetings, topic `greetings`.
#
# sf-modgen is taken from $SF_MODGEN, else from PATH, else from build/ (built
# there with CMake when missing).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$here/module.yaml}"

modgen="${SF_MODGEN:-}"
if [ -z "$modgen" ]; then
  if command -v sf-modgen >/dev/null 2>&1; then
    modgen="$(command -v sf-modgen)"
  else
    modgen="$repo/build/module-gen/sf-modgen"
    if [ ! -x "$modgen" ]; then
      echo "gen-module: building sf-modgen in $repo/build" >&2
      cmake -S "$repo" -B "$repo/build" -G Ninja >/dev/null
      cmake --build "$repo/build" --target sf-modgen >/dev/null
    fi
  fi
fi

"$modgen" \
  --functions 'greeter.fns/*' \
  --url-template 'http://greeter:8000/statefun/{function.name}' \
  --kafka kafka:9092 \
  --ingress-id greeter.io/names \
  --ingress-topic names=greeter.fns/greet \
  --value-type io.statefun.types/string \
  --consumer-group greeter \
  --startup-position earliest \
  --egress greeter.io/greetings \
  --egress-topic greetings \
  --delivery at-least-once \
  -o "$out"
echo "gen-module: wrote $out" >&2
