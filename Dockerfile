# hearth's image: one static binary, CA certificates and a /data volume, FROM scratch.
#
#   docker build -t hearth .                  # compiles in the build stage (needs a registry)
#   make image                                # packs a binary built here (scripts/image.sh)
#
# BINARY_FROM picks where /hearth comes from: the `build` stage below, or `local`: a
# context folder holding `hearth`, `ca-certificates.crt`, and empty `data/` and `tmp/`
# (scripts/image.sh prepares one from a static build).
#
# The `dev` stage (--target dev) is the image for Tilt's live update (Tiltfile): the same
# with a static busybox (tar, sh, kill) and deploy/dev/hearth-live.sh as its entrypoint.
# DEV_FROM picks where those come from: `dev-build` below, or `local`, whose context then
# also holds `dev/busybox` and `dev/hearth-live`.
ARG BINARY_FROM=build
ARG DEV_FROM=dev-build

FROM docker.io/library/rust:1.95-bookworm AS build
# --no-default-features leaves out the PDF engine (/pdf): a far smaller image.
ARG CARGO_FLAGS=""
# The commit, for `hearth --version` and /health (the context has no .git).
ARG REVISION=unknown
WORKDIR /src
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY . .
# glibc linked in (crt-static): the binary needs nothing from the image. Its relative
# relocations packed (RELR, glibc 2.36): 1.2 MB less than the classic table, still
# position-independent. Stripped by hand: the profile's `strip` leaves a static-pie's
# symbol table (20 MB) in place.
RUN set -eu; \
    triple="$(rustc -vV | sed -n 's/^host: //p')"; \
    HEARTH_GIT_REVISION="$REVISION" \
    RUSTFLAGS="-C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs" \
      cargo build --release --locked --target "$triple" $CARGO_FLAGS; \
    mkdir -p /out/data /out/tmp; \
    cp "target/$triple/release/hearth" /out/hearth; \
    strip --strip-all /out/hearth; \
    cp /etc/ssl/certs/ca-certificates.crt /out/ca-certificates.crt

FROM scratch AS local
COPY . /out/

# hadolint ignore=DL3006
FROM ${BINARY_FROM} AS binary

# Only the dev target builds this stage. Busybox follows bookworm's updates, unpinned.
FROM docker.io/library/debian:bookworm-slim AS dev-build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends busybox-static \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /out/dev \
    && cp /bin/busybox /out/dev/busybox
COPY deploy/dev/hearth-live.sh /out/dev/hearth-live

# hadolint ignore=DL3006
FROM ${DEV_FROM} AS dev-files

FROM scratch AS release
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="hearth" \
      org.opencontainers.image.description="A self-hosted personal web platform: one binary for your site and the machinery around it." \
      org.opencontainers.image.source="https://github.com/hearth-web/hearth" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=binary /out/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=binary --chown=65532:65532 /out/data /data
COPY --from=binary --chmod=1777 /out/tmp /tmp
COPY --from=binary /out/hearth /hearth
ENV HEARTH_LISTEN=0.0.0.0:8080 \
    HEARTH_DATA=/data \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/hearth", "probe", "http://127.0.0.1:8080/ping"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/hearth"]
CMD ["serve"]

# Tilt's live update: `tar` writes a new binary to /live/hearth (a writable volume in the
# dev overlay), then `kill -HUP 1` makes hearth-live restart hearth from it.
FROM release AS dev
COPY --from=dev-files /out/dev/busybox /out/dev/hearth-live /bin/
USER 0:0
RUN ["/bin/busybox", "--install", "-s", "/bin"]
USER 65532:65532
ENV PATH=/bin
ENTRYPOINT ["/bin/hearth-live"]
CMD ["serve"]

# The release image is the default target.
FROM release
