#!/bin/sh
# check_exports.sh LIB - the shared library exports only its API: every
# defined dynamic symbol starts with sf_ (no protobuf-c generated code, no
# sfb_ toolkit, no internal helper), and the API is there (sf_version).
set -u
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '{print $3}') || exit 1
bad=$(printf '%s\n' "$syms" | grep -v '^sf_')
if [ -n "$bad" ]; then
  echo "FAIL: $lib exports non-sf_ symbols:"
  printf '%s\n' "$bad" | head -20
  exit 1
fi
printf '%s\n' "$syms" | grep -qx sf_version || { echo "FAIL: no sf_version"; exit 1; }
echo "exports ok: $(printf '%s\n' "$syms" | wc -l) symbols, all sf_"
