#!/usr/bin/env bash
# bench/peers/build.sh LANG... - builds or installs the benchmark's peer
# servers (the same functions written with each official StateFun SDK) and
# prints, per language, one line "LANG<TAB>command..." that starts the
# server when " --port PORT" is appended. Idempotent: a build is redone
# only when its sources changed. Downloads go to caches under
# $SF_CACHE (default .cache/): Maven's repository (.cache/m2), Go's module
# and build caches (.cache/go-mod, .cache/go-build), npm's packages
# (scripts/node-env.sh) and pip's venv (scripts/python-env.sh). A language
# whose toolchain is missing fails with a reason (exit 1).
#
#   java    statefun-sdk-java 3.3.0 from Maven Central + Undertow (mvn, JDK)
#   go      statefun-sdk-go/v3 v3.3.0 + net/http (go)
#   js      npm apache-flink-statefun 3.3.0 + node http (node, npm)
#   python  apache-flink-statefun 3.3.0 + aiohttp (python3 venv)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${SF_CACHE:-$root/.cache}"
out="$cache/bench-peers"
mkdir -p "$out"

fail() { echo "bench/peers/build.sh: $1: $2" >&2; exit 1; }
# stamp NAME FILES... -> true when FILES are unchanged since the last build
fresh() {
  local name="$1"; shift
  local want; want="$(cat "$@" | sha256sum | cut -d' ' -f1)"
  [ -f "$out/$name.stamp" ] && [ "$(cat "$out/$name.stamp")" = "$want" ]
}
stamp() {
  local name="$1"; shift
  cat "$@" | sha256sum | cut -d' ' -f1 >"$out/$name.stamp"
}

build_java() {
  local src="$here/java" jar="$out/java/target/java-peer.jar"
  local files=("$src/pom.xml" "$src/src/main/java/bench/Peer.java")
  command -v java >/dev/null || fail java "no java (scripts/install-deps.sh installs openjdk-17-jdk-headless)"
  if ! fresh java "${files[@]}" || [ ! -f "$jar" ]; then
    command -v mvn >/dev/null || fail java "no mvn (scripts/install-deps.sh installs maven)"
    echo "build.sh: building the Java peer (Maven; first time downloads the SDK and Undertow into $cache/m2)" >&2
    rm -rf "$out/java" && mkdir -p "$out/java"
    cp -r "$src/pom.xml" "$src/src" "$out/java/"
    (cd "$out/java" && mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$cache/m2" package >&2) \
      || fail java "mvn package failed"
    stamp java "${files[@]}"
  fi
  printf 'java\tjava -jar %s\n' "$jar"
}

build_go() {
  local src="$here/go" bin="$out/go/go-peer"
  local files=("$src/go.mod" "$src/go.sum" "$src/main.go")
  command -v go >/dev/null || fail go "no go toolchain (Debian: apt-get install golang-go)"
  if ! fresh go "${files[@]}" || [ ! -x "$bin" ]; then
    echo "build.sh: building the Go peer (first time downloads the SDK into $cache/go-mod)" >&2
    mkdir -p "$out/go"
    (cd "$src" && GOMODCACHE="$cache/go-mod" GOCACHE="$cache/go-build" \
       GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath -o "$bin" . >&2) || fail go "go build failed"
    stamp go "${files[@]}"
  fi
  printf 'go\t%s\n' "$bin"
}

build_js() {
  command -v node >/dev/null || fail js "no node (scripts/install-deps.sh installs nodejs)"
  local mods
  mods="$("$root/scripts/node-env.sh")" || fail js "npm install failed"
  printf 'js\tenv NODE_PATH=%s node %s\n' "$mods" "$here/js/peer.js"
}

build_python() {
  local py
  py="$("$root/scripts/python-env.sh")" || fail python "venv failed"
  printf 'python\t%s %s\n' "$py" "$here/python/peer.py"
}

[ $# -gt 0 ] || { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
for lang in "$@"; do
  case "$lang" in
    java) build_java ;;
    go) build_go ;;
    js) build_js ;;
    python) build_python ;;
    *) fail "$lang" "unknown peer (java go js python)" ;;
  esac
done
