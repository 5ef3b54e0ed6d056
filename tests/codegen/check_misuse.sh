#!/bin/sh
# check_misuse.sh SF_CODEGEN SRC_DIR BUILD_INCLUDE WORK - every misuse of the
# method macros is a compile error at the user's line that says what is
# wrong (issue 10, item 5). tests/codegen/misuse/: misuse.ir.json, ok.c (the
# correct body: must compile cleanly) and one file per misuse, each listing
# the text its diagnostics must contain ("expect:" lines) and marking the
# line the first diagnostic must point at ("// HERE"). Each file is compiled
# with gcc and with clang (a missing compiler is skipped, but not both).
set -u
sfc=$1
src=$2
binc=$3
work=$4
dir=$src/tests/codegen/misuse
rm -rf "$work" && mkdir -p "$work" || exit 1
cp "$dir"/*.c "$dir"/misuse.ir.json "$work"/ || exit 1
cd "$work" || exit 1
"$sfc" misuse.ir.json -o . || { echo "FAIL: sf-codegen misuse.ir.json"; exit 1; }
fail=0
compilers=0
for cc in gcc clang; do
  command -v "$cc" >/dev/null 2>&1 || { echo "skip: no $cc"; continue; }
  compilers=$((compilers + 1))
  flags="-std=gnu11 -O2 -Wall -Wextra -Werror -I$src/sdk/include -I$binc -I."
  if ! out=$($cc $flags -c ok.c -o /dev/null 2>&1) || [ -n "$out" ]; then
    echo "FAIL: $cc: the correct body does not compile cleanly:"
    echo "$out"
    fail=1
  fi
  for f in *.c; do
    case $f in ok.c | base.c | misuse.c) continue ;; esac
    if out=$($cc $flags -c "$f" -o /dev/null 2>&1); then
      echo "FAIL: $cc $f: compiled, but it is a misuse"
      fail=1
      continue
    fi
    line=$(grep -n '  // HERE$' "$f" | cut -d: -f1)
    first=$(printf '%s\n' "$out" | grep -E '(error|warning):' | head -n 1)
    case $first in
      "$f:$line:"*) ;;
      *) echo "FAIL: $cc $f: the first diagnostic is not at $f:$line: $first"; fail=1 ;;
    esac
    grep '^ \* expect: ' "$f" | sed 's/^ \* expect: //' | while IFS= read -r want; do
      # compilers quote with ' or typographic quotes, GCC escapes a quote
      # inside a static assertion's text: compare without them
      printf '%s\n' "$out" | sed "s/[‘’'\\\\]//g" | grep -qF -- "$(printf '%s' "$want" | sed "s/'//g")" ||
        { echo "FAIL: $cc $f: no diagnostic says: $want"; printf '%s\n' "$out" | head -n 8; exit 1; }
    done || fail=1
    [ $fail = 0 ] && echo "ok: $cc $f: $first"
  done
done
[ $compilers -gt 0 ] || { echo "FAIL: neither gcc nor clang"; exit 1; }
[ $fail = 0 ] && echo "check_misuse: all misuses are errors at the user's line" 
exit $fail
