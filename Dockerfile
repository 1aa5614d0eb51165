# drl — multi-stage image: build on Debian 12 with the -dev packages, run on bookworm-slim with
# only the runtime libraries, the drl binary and the shipped models, as a non-root user.
FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev libopenblas-dev \
      libpng-dev zlib1g-dev libarchive-dev check ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Portable build: no -march=native (the image may run on another CPU than the builder).
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DDRL_NATIVE=OFF && cmake --build /build -j"$(nproc)" --target drl

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libmicrohttpd12 libjansson4 libopenblas0-pthread libpng16-16 zlib1g libarchive13 libgomp1 \
      curl \
    && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 --home /var/lib/drl drl \
    && mkdir -p /var/lib/drl && chown drl /var/lib/drl
COPY --from=build /build/drl /usr/local/bin/drl
COPY models/ /usr/share/drl/models/
# Every `drl serve` option has an environment form (docs/api.md): DRL_PORT, DRL_THREADS,
# DRL_TOKEN / DRL_TOKEN_FILE (admin routes), DRL_MAX_BATCH, DRL_DRAIN_DELAY_MS, ...
ENV DRL_MODEL=/usr/share/drl/models/drl-fmnist.safetensors DRL_HOST=0.0.0.0 DRL_PORT=8080 DRL_THREADS=0
USER drl
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=2s --start-period=10s CMD curl -fsS http://127.0.0.1:${DRL_PORT}/healthz || exit 1
ENTRYPOINT ["drl", "serve"]
