# The function server image: the greeter example (greeter.fns/greet) served
# by libstatefun_server on 0.0.0.0:8000, plus sf-modgen.
#
#   docker build -t statefun-c-greeter .
#   docker run --rm -p 8000:8000 statefun-c-greeter
#
# Stage 1 builds with CMake (Release, static libstatefun so the binaries need
# no libraries of ours); stage 2 is bookworm-slim with only the shared
# libraries the binaries load, running as a non-root user.
FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      protobuf-c-compiler libprotobuf-c-dev \
      libmicrohttpd-dev libjansson-dev \
      libyaml-dev libcurl4-openssl-dev libsqlite3-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja \
      -DCMAKE_BUILD_TYPE=Release \
      -DBUILD_SHARED_LIBS=OFF \
      -DSF_BUILD_TESTS=OFF -DSF_BUILD_BENCH=OFF -DSF_BUILD_FUZZERS=OFF \
 && cmake --build /build --target greeter sf-modgen \
 && strip /build/examples/greeter/greeter /build/module-gen/sf-modgen

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libprotobuf-c1 libmicrohttpd12 libjansson4 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin statefun
COPY --from=build /build/examples/greeter/greeter /usr/local/bin/greeter
COPY --from=build /build/module-gen/sf-modgen /usr/local/bin/sf-modgen
USER 10001:10001
EXPOSE 8000
# GET /health over bash's /dev/tcp: the slim image has no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8000 && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
STOPSIGNAL SIGTERM
CMD ["greeter", "--listen", "0.0.0.0:8000"]
