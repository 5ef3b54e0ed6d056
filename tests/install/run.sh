#!/usr/bin/env bash
# The install test: `cmake --install` the build into a temporary prefix, then
# build tests/install/consumer out of tree against it
#   1. with CMake:      find_package(statefun COMPONENTS statefun statefun_server)
#   2. with pkg-config: statefun            (SDK only)
#   3. with pkg-config: statefun-server     (SDK + HTTP server)
# and run the three programs against the installed libraries only.
#
#   tests/install/run.sh BUILD_DIR SOURCE_DIR [CC] [EXTRA_CFLAGS]
set -euo pipefail
build="$(cd "${1:?usage: run.sh BUILD_DIR SOURCE_DIR [CC] [CFLAGS]}" && pwd)"
src="$(cd "${2:?}" && pwd)"
cc="${3:-cc}"
extra="${4:-}"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/statefun-install.XXXXXX")"
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
prefix="$tmp/prefix"
step() { echo "install-test: $*"; }
fail() { echo "install-test: FAILED: $*" >&2; exit 1; }

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
static=""
[ -e "$libdir/libstatefun.so" ] || static="--static"
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

# 1. find_package(statefun)
gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
step "find_package(statefun) with CMAKE_PREFIX_PATH=$prefix"
cmake -S "$src/consumer" -B "$tmp/cmake-build" "${gen[@]}" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$extra" \
  -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF >"$tmp/cmake.log" 2>&1 \
  || { cat "$tmp/cmake.log"; fail "configuring the consumer"; }
found="$(sed -n 's/^statefun_DIR:PATH=//p' "$tmp/cmake-build/CMakeCache.txt")"
case "$found" in "$prefix"/*) ;; *) fail "find_package found $found, not $prefix";; esac
cmake --build "$tmp/cmake-build" >"$tmp/build.log" 2>&1 \
  || { cat "$tmp/build.log"; fail "building the consumer with CMake"; }

# 2./3. pkg-config
for pkg in statefun statefun-server; do
  flags="$(pkg-config $static --cflags --libs "$pkg")" || fail "pkg-config $pkg"
  step "pkg-config $static --cflags --libs $pkg: $flags"
  case "$flags" in *"$prefix"*) ;; *) fail "pkg-config $pkg does not point into $prefix";; esac
  def=""
  [ "$pkg" = statefun-server ] && def="-DSF_WITH_SERVER"
  # shellcheck disable=SC2086
  "$cc" $extra -std=c11 -Wall -Wextra -Werror $def "$src/consumer/main.c" \
    -o "$tmp/consumer_$pkg" $flags || fail "building the consumer with pkg-config $pkg"
done

# Run them against the installed libraries (and only those).
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for exe in "$tmp/cmake-build/consumer_cmake" "$tmp/consumer_statefun" \
           "$tmp/consumer_statefun-server"; do
  if [ -z "$static" ]; then
    where="$(ldd "$exe" | awk '/libstatefun\.so/ {print $3}')"
    case "$where" in "$libdir"/*) ;; *) fail "$(basename "$exe") loads libstatefun from '$where'";; esac
  fi
  step "running $(basename "$exe")"
  "$exe" || fail "$(basename "$exe") exited with $?"
done
step "OK (cmake + pkg-config consumers, SDK and server, prefix $prefix)"
