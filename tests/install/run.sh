#!/usr/bin/env bash
# The install test: `cmake --install` the build into a temporary prefix and
# use it as a new user would, with no LD_LIBRARY_PATH anywhere:
#   1. the installed sf-local, sf-local-check, sf-codegen and sf-modgen start
#      (--version, --help): their run path finds the installed libraries;
#   2. tests/install/consumer (SDK + server, JSON state, its own protobuf
#      type) built out of tree with find_package(statefun) and with
#      pkg-config statefun / statefun-server, and run;
#   3. the shopping cart (examples/shopping-cart) built out of tree both
#      ways from shop.ir.json with the installed sf-codegen
#      (statefun_add_entities, docs/codegen.md; sf-codegen by hand);
#   4. each cart served behind the installed sf-local with the module.yaml
#      the installed sf-modgen writes, and a method called through it;
#   5. the README's five-minute tutorial and docs/json.md, every command as
#      written, in an empty directory (run_tutorial.py).
#
#   tests/install/run.sh BUILD_DIR SOURCE_DIR [CC] [EXTRA_CFLAGS]
set -euo pipefail
build="$(cd "${1:?usage: run.sh BUILD_DIR SOURCE_DIR [CC] [CFLAGS]}" && pwd)"
src="$(cd "${2:?}" && pwd)"
root="$(cd "$src/../.." && pwd)"
cart_src="$root/examples/shopping-cart"
cc="${3:-cc}"
extra="${4:-}"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/statefun-install.XXXXXX")"
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
prefix="$tmp/prefix"
step() { echo "install-test: $*"; }
fail() { echo "install-test: FAILED: $*" >&2; exit 1; }
# What is installed must run on its own: no library path from outside.
unset LD_LIBRARY_PATH

step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 \
  || { cat "$tmp/install.log"; fail "cmake --install"; }
for f in include/statefun/statefun.h include/statefun/server.h; do
  [ -f "$prefix/$f" ] || fail "$f not installed"
done
pc="$(find "$prefix" -name statefun.pc | head -1)"
[ -n "$pc" ] || fail "statefun.pc not installed"
pcdir="$(dirname "$pc")"
[ -f "$pcdir/statefun-server.pc" ] || fail "statefun-server.pc not installed"
export PKG_CONFIG_PATH="$pcdir"
libdir="$(pkg-config --variable=libdir statefun)"
libdir="$(cd "$libdir" && pwd)" || fail "pkg-config libdir $libdir does not exist"
case "$libdir" in "$prefix"/*) ;; *) fail "statefun.pc libdir $libdir is outside $prefix";; esac
ls "$libdir"/libstatefun.* >/dev/null 2>&1 || fail "no libstatefun in $libdir"
ls "$libdir"/libstatefun_server.* >/dev/null 2>&1 || fail "no libstatefun_server in $libdir"
# A static build (BUILD_SHARED_LIBS=OFF) installs only .a files; a user
# still links with plain `pkg-config --libs` (no --static: that means a
# fully static program, with every system library's .a).
static=""
[ -e "$libdir/libstatefun.so" ] || static=1
step "installed: $(cd "$prefix" && find . -type f -o -type l | sort | tr '\n' ' ')"

# The installed headers stand alone, in strict C99.
printf '#include <statefun/statefun.h>\n#include <statefun/server.h>\n#include <statefun/entity.h>\nint main(void){return 0;}\n' \
  >"$tmp/hdr.c"
"$cc" -std=c99 -Wall -Wextra -Wpedantic -Werror -I"$prefix/include" \
  -fsyntax-only "$tmp/hdr.c" || fail "installed headers do not compile as C99"
if command -v c++ >/dev/null 2>&1; then
  cp "$tmp/hdr.c" "$tmp/hdr.cpp"
  # C++ programs include the C headers too (extern "C"; no C++ keywords).
  c++ -Wall -Wextra -Werror -I"$prefix/include" -fsyntax-only "$tmp/hdr.cpp" \
    || fail "installed headers do not compile as C++"
fi

# 1. The installed programs start from the prefix alone.
for tool in sf-local sf-local-check sf-codegen sf-modgen; do
  exe="$prefix/bin/$tool"
  [ -x "$exe" ] || fail "$tool not installed in $prefix/bin"
done
for tool in sf-local sf-codegen sf-modgen; do
  exe="$prefix/bin/$tool"
  out="$("$exe" --version 2>&1)" || fail "$tool --version: $out"
  case "$out" in "$tool "[0-9]*) ;; *) fail "$tool --version printed '$out'";; esac
  "$exe" --help >"$tmp/help.txt" 2>&1 || fail "$tool --help: $(cat "$tmp/help.txt")"
  step "$out starts from $prefix/bin (--version, --help)"
done
"$prefix/bin/sf-local-check" "$cart_src/module.yaml" >"$tmp/check.txt" 2>&1 \
  || fail "sf-local-check module.yaml: $(cat "$tmp/check.txt")"

# 2. The consumer. It uses jansson and its own protobuf-c type directly:
# it links only if the package passes both on.
gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
step "find_package(statefun) with CMAKE_PREFIX_PATH=$prefix"
cmake -S "$src/consumer" -B "$tmp/cmake-build" "${gen[@]}" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$extra" \
  -DCMAKE_PREFIX_PATH="$prefix" -DSF_CART_DIR="$cart_src" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF >"$tmp/cmake.log" 2>&1 \
  || { cat "$tmp/cmake.log"; fail "configuring the consumer"; }
found="$(sed -n 's/^statefun_DIR:PATH=//p' "$tmp/cmake-build/CMakeCache.txt")"
case "$found" in "$prefix"/*) ;; *) fail "find_package found $found, not $prefix";; esac
cmake --build "$tmp/cmake-build" >"$tmp/build.log" 2>&1 \
  || { cat "$tmp/build.log"; fail "building the consumer and the cart with CMake"; }
grep -q "$prefix/bin/sf-codegen" "$tmp/cmake-build/CMakeCache.txt" \
  || fail "statefun_add_entities did not use the installed sf-codegen"

# pkg-config, as the README says: cc prog.c $(pkg-config --cflags --libs ...)
# (plus a run path to the prefix, where a user would have /usr/lib).
protoc-c --c_out="$tmp" -I"$src/consumer" "$src/consumer/point.proto" \
  || fail "protoc-c point.proto"
rpath="-Wl,-rpath,$libdir"
for pkg in statefun statefun-server; do
  flags="$(pkg-config --cflags --libs "$pkg")" || fail "pkg-config $pkg"
  step "pkg-config --cflags --libs $pkg: $flags"
  case "$flags" in *"$prefix"*) ;; *) fail "pkg-config $pkg does not point into $prefix";; esac
  def=""
  [ "$pkg" = statefun-server ] && def="-DSF_WITH_SERVER"
  # shellcheck disable=SC2086
  "$cc" $extra -std=c11 -Wall -Wextra -Werror $def -I"$tmp" \
    "$src/consumer/main.c" "$tmp/point.pb-c.c" -o "$tmp/consumer_$pkg" \
    $flags "$rpath" || fail "building the consumer with pkg-config $pkg"
done

# 3. The cart with pkg-config: the installed sf-codegen by hand.
"$prefix/bin/sf-codegen" "$cart_src/shop.ir.json" -o "$tmp/entities" \
  || fail "sf-codegen shop.ir.json"
flags="$(pkg-config --cflags --libs statefun-server)"
# shellcheck disable=SC2086
"$cc" $extra -std=c11 -I"$tmp/entities" "$cart_src/main.c" "$cart_src/cart.c" \
  "$tmp/entities/shop.c" -o "$tmp/cart_pkgconfig" $flags "$rpath" \
  || fail "building the cart with pkg-config statefun-server"

# 3b. A user's test with <statefun/testing.h>, pkg-config statefun only.
# shellcheck disable=SC2086
"$cc" $extra -std=gnu11 -Wall -Wextra -Werror -DSF_WITH_CART -I"$tmp/entities" \
  "$src/consumer/harness.c" "$cart_src/cart.c" "$tmp/entities/shop.c" \
  -o "$tmp/harness_pkgconfig" $(pkg-config --cflags --libs statefun) "$rpath" \
  || fail "building harness.c with pkg-config statefun"

# Run the consumers against the installed libraries (and only those).
for exe in "$tmp/cmake-build/consumer_cmake" "$tmp/consumer_statefun" \
           "$tmp/consumer_statefun-server" "$tmp/cmake-build/harness_cmake" \
           "$tmp/harness_pkgconfig"; do
  if [ -z "$static" ]; then
    where="$(ldd "$exe" | awk '/libstatefun\.so/ {print $3}')"
    case "$where" in "$libdir"/*) ;; *) fail "$(basename "$exe") loads libstatefun from '$where'";; esac
  fi
  step "running $(basename "$exe")"
  "$exe" || fail "$(basename "$exe") exited with $?"
done

# 4. Each cart behind the installed sf-local, with sf-modgen's module.yaml.
pids=()
# stop_all: SIGTERM to the servers; each must exit 0 (a clean shutdown).
stop_all() {
  local p rc bad=0
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    rc=0
    wait "$p" 2>/dev/null || rc=$?
    [ "$rc" -eq 0 ] || bad=$rc
  done
  pids=()
  return "$bad"
}
trap 'stop_all || true; cleanup' EXIT
# url_in LOG PATTERN: waits for a line of LOG with "http://127.0.0.1:N"
# after PATTERN and prints the URL.
url_in() {
  local url=""
  for _ in $(seq 1 100); do
    url="$(grep -o "$2"' http://127\.0\.0\.1:[0-9]*' "$1" 2>/dev/null |
           head -1 | grep -o 'http://.*' || true)"
    [ -n "$url" ] && { echo "$url"; return 0; }
    sleep 0.1
  done
  cat "$1" >&2
  return 1
}
serve_cart() { # serve_cart EXE NAME
  local exe=$1 name=$2 fn_url in_url out
  "$exe" --listen 127.0.0.1:0 --threads 2 2>"$tmp/$name.log" &
  pids+=($!)
  fn_url="$(url_in "$tmp/$name.log" 'on')" || fail "$name did not start"
  "$prefix/bin/sf-modgen" --ir "$cart_src/shop.ir.json" \
    --url-template "$fn_url/statefun/{function.name}" -o "$tmp/$name.yaml" \
    || fail "sf-modgen --ir shop.ir.json"
  "$prefix/bin/sf-local" --module "$tmp/$name.yaml" \
    --ir "$cart_src/shop.ir.json" --ingress-port 0 --egress-port 0 \
    2>"$tmp/$name-sf-local.log" &
  pids+=($!)
  in_url="$(url_in "$tmp/$name-sf-local.log" 'ingress')" \
    || fail "the installed sf-local did not start"
  call() { curl -sS -X POST "$in_url/shop/$1" -d "$2"; }
  call Item/apple/set_price '{"price":30}' >/dev/null
  call Item/apple/add_stock '{"qty":5}' >/dev/null
  out="$(call User/alice/add_to_basket '{"items":["apple"]}')"
  case "$out" in *'"ok":true'*'"result":30'*|*'"result":30'*'"ok":true'*) ;;
    *) fail "$name behind sf-local: add_to_basket answered '$out'";; esac
  step "$name behind the installed sf-local (module.yaml by sf-modgen): add_to_basket -> $out"
  stop_all || fail "$name or sf-local did not exit 0 on SIGTERM"
}
serve_cart "$tmp/cmake-build/cart_cmake" cart_cmake
serve_cart "$tmp/cart_pkgconfig" cart_pkgconfig

# 5. The tutorials, as a reader runs them: plain `cc` (an instrumented
# library needs instrumented programs, which the tutorials do not build).
if [ -n "$extra" ]; then
  step "tutorials skipped: this build's library needs CFLAGS '$extra'"
else
  step "the README's five-minute tutorial and docs/json.md, as written"
  python3 "$src/run_tutorial.py" --prefix "$prefix" --libdir "$libdir" \
    "$root/README.md" "$root/docs/json.md" || fail "a tutorial does not run as written"
fi
step "OK (installed tools; cmake + pkg-config consumers, carts and harness tests; prefix $prefix)"
