#!/bin/sh
# readme_example.sh README CC INCLUDE_DIR... - the README's five-minute
# function (the first ```c block under "## Five minutes") compiles as written
# with -Wall -Wextra -Werror, as a new user would build it.
set -u
readme=$1 cc=$2
shift 2
inc=""
for d in "$@"; do inc="$inc -I$d"; done
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
awk '/^## Five minutes/ {s = 1} s && /^```c$/ {c = 1; next}
     c && /^```$/ {exit} c {print}' "$readme" >"$tmp/hello.c"
[ -s "$tmp/hello.c" ] || { echo "FAIL: no C block under '## Five minutes' in $readme"; exit 1; }
# shellcheck disable=SC2086
$cc -std=c11 -Wall -Wextra -Werror -fsyntax-only $inc "$tmp/hello.c" ||
  { echo "FAIL: the five-minute example does not compile with -Wall -Wextra -Werror"; exit 1; }
echo "five-minute example compiles with -Wall -Wextra -Werror ($(wc -l <"$tmp/hello.c") lines)"
