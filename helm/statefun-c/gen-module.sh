#!/usr/bin/env bash
# Writes files/module.yaml, the module.yaml this chart puts in its ConfigMap
# (templates/configmap.yaml reads it with .Files.Get). Generated with
# sf-modgen, never committed. Run it before `helm install`.
#
#   helm/statefun-c/gen-module.sh                    # the greeter
#   helm/statefun-c/gen-module.sh --functions 'shop.fns/*' \
#       --ingress-topic orders=shop.fns/order ...      # your functions
#
# The endpoint URL is the chart's function Service (values.yaml:
# functions.serviceName, functions.port); the chart refuses to render when
# they disagree with the file. Environment:
#   SF_FUNCTIONS_SERVICE  (default statefun-c-functions)
#   SF_FUNCTIONS_PORT     (default 8000)
#   SF_KAFKA              Kafka bootstrap address (default kafka:9092)
#   SF_MODGEN             the sf-modgen binary (default: PATH, else build/)
#   SF_MODULE_OUT         where to write (default files/module.yaml here)
# Arguments replace the greeter's function/topic/egress options.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${SF_MODULE_OUT:-$here/files/module.yaml}"
service="${SF_FUNCTIONS_SERVICE:-statefun-c-functions}"
port="${SF_FUNCTIONS_PORT:-8000}"
kafka="${SF_KAFKA:-kafka:9092}"

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

if [ $# -eq 0 ]; then
  set -- \
    --functions 'greeter.fns/*' \
    --ingress-id greeter.io/names \
    --ingress-topic names=greeter.fns/greet \
    --consumer-group greeter \
    --startup-position earliest \
    --egress greeter.io/greetings \
    --egress-topic greetings
fi
mkdir -p "$(dirname "$out")"
"$modgen" \
  --url-template "http://$service:$port/statefun/{function.name}" \
  --kafka "$kafka" \
  "$@" \
  -o "$out"
echo "gen-module: wrote $out" >&2
