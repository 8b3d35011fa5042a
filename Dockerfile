# syntax=docker/dockerfile:1
# The berth image: what rendered backup CronJobs, WAL shippers and metrics
# exporters run (`berth backup ...`), with the PostgreSQL and Redis clients
# the backups call. Its name and tag are `berth_render::BERTH_IMAGE`.
#
#   docker build -t ghcr.io/berth-dev/berth:0.1.0 .
#
# Base images are pinned by digest; refresh both together with
# `docker buildx imagetools inspect rust:1.91-slim-bookworm` (and
# debian:bookworm-slim) when bumping the toolchain or for security updates.

FROM rust:1.91-slim-bookworm@sha256:8514999d4786ef12efe89239e86b3d0a021b94b9d35108c8efe6c79ca7dc1a65 AS build
WORKDIR /src
COPY . .
RUN cargo build --locked --release -p berth-cli \
    && strip target/release/berth

FROM debian:bookworm-slim@sha256:7b140f374b289a7c2befc338f42ebe6441b7ea838a042bbd5acbfca6ec875818
# The newest PostgreSQL client from PostgreSQL's own repository: pg_dump and
# pg_basebackup read servers of their major version and older, so one
# client backs up every `version:` a spec may name. Package versions are
# left to security updates (the base image digest pins the release).
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
    && curl -fsSL https://www.postgresql.org/media/keys/ACCC4CF8.asc \
        | gpg --dearmor -o /usr/share/keyrings/pgdg.gpg \
    && echo "deb [signed-by=/usr/share/keyrings/pgdg.gpg] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-17 redis-tools \
    && apt-get purge -y gnupg && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 berth \
    && useradd --system --uid 10001 --gid berth --home-dir /var/lib/berth --create-home berth
COPY --from=build /src/target/release/berth /usr/local/bin/berth
USER 10001:10001
WORKDIR /var/lib/berth
# Jobs run one command and exit; `berth edge` is checked by its platform
# (compose and Kubernetes probe its status page, with curl here).
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/berth"]
CMD ["--help"]
