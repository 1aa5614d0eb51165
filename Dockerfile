# drl — multi-stage image: build on Debian 12 with the -dev packages, run on bookworm-slim with
# only the runtime libraries, the drl binary and the shipped models, as a non-root user.
#
#   docker build -t drl .
#   docker run --rm -p 8080:8080 drl                       # the shipped model on :8080
#   docker run --rm -p 8080:8080 -e DRL_TOKEN_FILE=/run/secrets/drl_token \
#       -v "$PWD/token:/run/secrets/drl_token:ro" -e DRL_WORK_DIR=/var/lib/drl -v drl-work:/var/lib/drl drl
#
# Configuration is by environment (every `drl serve` flag has a DRL_* form, docs/api.md) or by
# flags appended to `docker run IMAGE ...` (the entrypoint is `drl serve`).

# ---- build stage ---------------------------------------------------------------------------
FROM debian:bookworm AS build
# check (libcheck) is only needed because CMake configures the test targets; only drl is built.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev libopenblas-dev \
      libpng-dev zlib1g-dev libarchive-dev check ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the build reads (the rest is excluded by .dockerignore as well).
COPY CMakeLists.txt ./
COPY core/ core/
COPY proto/ proto/
COPY server/ server/
COPY cli/ cli/
COPY tests/ tests/
# Portable build: no -march=native (the image may run on another CPU than the builder).
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DDRL_NATIVE=OFF \
    && cmake --build /build -j"$(nproc)" --target drl \
    && strip /build/drl && /build/drl serve --help >/dev/null

# ---- runtime stage -------------------------------------------------------------------------
FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="drl" \
      org.opencontainers.image.description="Diffusion-based representation learning: embeddings over HTTP/JSON" \
      org.opencontainers.image.source="https://example.invalid/drl"
# Runtime libraries only (the binary's NEEDED list) + curl for the HEALTHCHECK.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends \
      libmicrohttpd12 libjansson4 libopenblas0-pthread libpng16-16 zlib1g libarchive13 libgomp1 \
      curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 drl \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/drl --no-create-home \
         --shell /usr/sbin/nologin drl \
    && mkdir -p /var/lib/drl && chown 10001:10001 /var/lib/drl && chmod 0750 /var/lib/drl
COPY --from=build /build/drl /usr/local/bin/drl
COPY models/ /usr/share/drl/models/
# Every `drl serve` option has an environment form (docs/api.md): DRL_MODEL, DRL_PORT,
# DRL_THREADS (0 = every online CPU of the host: set it to the container's CPU limit),
# DRL_TOKEN_FILE (preferred: a mounted secret) or DRL_TOKEN (admin routes), DRL_MAX_BATCH,
# DRL_DRAIN_DELAY_MS / DRL_DRAIN_TIMEOUT_MS, ...
# Training is opt-in: set DRL_WORK_DIR=/var/lib/drl (the volume below) to enable the dataset and
# job routes; DRL_TRAIN_WORKER=off on serving replicas that share the work dir with a worker.
ENV DRL_MODEL=/usr/share/drl/models/drl-fmnist.safetensors \
    DRL_HOST=0.0.0.0 \
    DRL_PORT=8080 \
    DRL_THREADS=0
# Work dir (datasets, jobs, promoted models, models/current) when DRL_WORK_DIR is set; a fresh
# named volume mounted here inherits the drl ownership.
VOLUME ["/var/lib/drl"]
WORKDIR /var/lib/drl
# Numeric so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 8080
# SIGTERM drains: /readyz answers 503 for DRL_DRAIN_DELAY_MS, then the listener closes and the
# requests in flight finish (up to DRL_DRAIN_TIMEOUT_MS); exit status 0. SIGHUP reloads the model.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:${DRL_PORT:-8080}/healthz" || exit 1
ENTRYPOINT ["drl", "serve"]
