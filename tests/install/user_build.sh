#!/usr/bin/env bash
# A user's build of statefun-c warns but never fails on a warning: -Werror
# belongs to SF_WERROR (developers, CI, the CMakePresets.json builds), which
# is off by default. Configures the source tree twice in a temporary
# directory (no build) and reads the compile commands:
#   default            no -Werror anywhere
#   -DSF_WERROR=ON     -Werror on libstatefun's sources and the generated
#                      protobuf-c code
#
#   tests/install/user_build.sh SOURCE_DIR [CC]
set -euo pipefail
src="$(cd "${1:?usage: user_build.sh SOURCE_DIR [CC]}" && pwd)"
cc="${2:-cc}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/statefun-userbuild.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "user-build: FAILED: $*" >&2; exit 1; }

gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
configure() { # configure DIR ARGS...
  local dir=$1
  shift
  cmake -S "$src" -B "$dir" "${gen[@]}" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "$@" >"$dir.log" 2>&1 \
    || { cat "$dir.log"; fail "configuring $src $*"; }
  [ -s "$dir/compile_commands.json" ] || fail "no compile_commands.json in $dir"
}

configure "$tmp/default"
n="$(grep -c -- '-Werror' "$tmp/default/compile_commands.json" || true)"
[ "$n" -eq 0 ] || fail "a default build compiles $n file(s) with -Werror"
echo "user-build: default configuration: no -Werror in $(grep -c '"file"' "$tmp/default/compile_commands.json") compile commands"

configure "$tmp/werror" -DSF_WERROR=ON
for f in sdk/src/handler.c request_reply.pb-c.c; do
  # (no grep -q after a pipe: with pipefail its early exit can fail the
  # pipeline through SIGPIPE)
  grep -- '-Werror' "$tmp/werror/compile_commands.json" | grep "$f" >/dev/null \
    || fail "-DSF_WERROR=ON does not compile $f with -Werror"
done
echo "user-build: -DSF_WERROR=ON: -Werror on our sources and the generated code"
