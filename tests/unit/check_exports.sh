#!/bin/sh
# check_exports.sh LIB - the shared library exports only its API: every
# defined dynamic symbol starts with sf_ (no protobuf-c generated code, no
# sfb_ toolkit, no internal helper), and the API is there (sf_version).
set -u
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '{print $3}') || exit 1
# Sanitizer builds add their own markers (ASan's __odr_asan.<global> for
# each exported global); they are the compiler's, not ours.
bad=$(printf '%s\n' "$syms" | grep -v '^sf_' |
      grep -Ev '^__(odr_asan|asan|ubsan|sancov)')
if [ -n "$bad" ]; then
  echo "FAIL: $lib exports non-sf_ symbols:"
  printf '%s\n' "$bad" | head -20
  exit 1
fi
printf '%s\n' "$syms" | grep -qx sf_version || { echo "FAIL: no sf_version"; exit 1; }
echo "exports ok: $(printf '%s\n' "$syms" | grep -c '^sf_') sf_ symbols, nothing else"
