#!/usr/bin/env bash
# Installs the Debian packages statefun-c needs to build, test, fuzz and
# benchmark. Idempotent: does nothing when everything is already there.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates
  protobuf-c-compiler libprotobuf-c-dev   # wire format (protoc-c at build time)
  libmicrohttpd-dev libgnutls28-dev      # HTTP server, its TLS (GnuTLS)
  openssl                                 # tests/tls: the test CA (openssl CLI)
  librdkafka-dev                          # sf-gateway: Calls/Replies on Kafka
  libjansson-dev                          # JSON user types
  libcurl4-openssl-dev                    # HTTP client in tests (and sf-local)
  libcriterion-dev                        # unit tests
  libyaml-dev                             # module.yaml parsing
  libsqlite3-dev sqlite3                  # sf-local --data (durable store)
  clang llvm libclang-rt-14-dev           # libFuzzer + sanitizers
  wrk                                     # benchmarks
  python3 python3-venv python3-pip        # conformance vs the official SDK
  valgrind
  openjdk-17-jdk-headless maven           # tests/e2e: the real Flink StateFun + Kafka
  docker-compose                          # tests/deploy: docker-compose config
  nodejs                                  # tests/sdkapps, bench/peers/js: the official JavaScript SDK
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
# npm: Debian packages it apart from nodejs; other nodejs builds bundle it
# (and conflict with Debian's npm), so it is installed only when missing.
command -v npm >/dev/null 2>&1 || missing+=(npm)
# Go (bench/peers/go: the official Go SDK's server in bench/run.sh): any Go
# >= 1.19 will do, so Debian's golang-go is installed only when no go is on
# the PATH (a toolchain from go.dev in /usr/local/go is used as it is).
command -v go >/dev/null 2>&1 || missing+=(golang-go)
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} Debian packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
