#!/bin/sh
# check_bad.sh SF_CODEGEN BAD_DIR - runs `sf-codegen --check` on every
# BAD_DIR/*.json (from inside BAD_DIR, so messages start with the bare file
# name) and compares its stderr with that file's line in expected.txt,
# exactly, and its exit code with 2. Every file needs a line, every line a
# file. A sanitizer report changes stderr, so it fails the test too.
set -u
sfc=$1
cd "$2" || exit 1
fail=0
n=0
for f in *.json; do
  grep -q "^$f:" expected.txt || { echo "$f: no line in expected.txt"; fail=1; }
done
while IFS= read -r want; do
  f=${want%%:*}
  if [ ! -f "$f" ]; then
    echo "expected.txt: no file $f"
    fail=1
    continue
  fi
  n=$((n + 1))
  got=$("$sfc" --check "$f" 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" -ne 2 ]; then
    echo "$f: exit code $rc, expected 2"
    fail=1
  fi
  if [ "$got" != "$want" ]; then
    printf '%s:\n  expected: %s\n  got:      %s\n' "$f" "$want" "$got"
    fail=1
  fi
done < expected.txt
echo "checked $n bad IR files"
exit $fail
