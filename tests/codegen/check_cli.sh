#!/bin/sh
# check_cli.sh SF_CODEGEN SOURCE_DIR OUT_DIR - options and exit codes:
# 0 ok, 1 I/O failure, 2 invalid IR or usage.
set -u
sfc=$1
shop=$2/examples/shopping-cart/shop.ir.json
out=$3
mkdir -p "$out"
fail=0
want() { # CODE ARGS...: the exit code of sf-codegen ARGS
  code=$1
  shift
  "$sfc" "$@" > "$out/stdout" 2> "$out/stderr"
  rc=$?
  if [ "$rc" -ne "$code" ]; then
    echo "sf-codegen $*: exit $rc, expected $code"
    cat "$out/stderr"
    fail=1
  fi
}
want 0 --help
grep -q '^usage: sf-codegen --check IR.json' "$out/stdout" || { echo "--help text"; fail=1; }
want 0 --version
grep -Eq '^sf-codegen [0-9]+\.[0-9]+\.[0-9]+$' "$out/stdout" || { echo "--version text"; fail=1; }
want 2
want 2 --frobnicate "$shop"
grep -q "^sf-codegen: unknown option '--frobnicate'" "$out/stderr" || { echo "unknown option message"; fail=1; }
want 2 "$shop"
want 2 --check "$shop" "$shop"
want 2 --check --dot "$shop"
want 2 --svg "$shop"
want 2 --dot "$shop" -o
want 2 --check "$out/missing.json"
rm -rf "$out/gen"
want 0 "$shop" -o "$out/gen"
[ -s "$out/gen/shop.h" ] && [ -s "$out/gen/shop.c" ] || { echo "-o DIR: no shop.h/shop.c"; fail=1; }
want 1 --dot "$shop" -o "$out/no/such/dir/x.dot"
want 0 --check "$shop"
[ -s "$out/stderr" ] && { echo "--check wrote to stderr"; fail=1; }
[ $fail -eq 0 ] && echo "cli ok"
exit $fail
