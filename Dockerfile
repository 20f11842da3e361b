# wordgate container image: `docker build -t wordgate .` at the repository root.
#
# Stage 1 compiles the release binary; stage 2 is distroless (glibc, CA
# certificates, no shell, no package manager) running as the non-root user
# 65532. Paths in the image:
#   /usr/local/bin/wordgate          the binary
#   /etc/wordgate/wordgate.toml      configuration (WORDGATE_CONFIG), from deploy/docker/
#   /etc/wordgate/dictionaries/      the starter dictionaries; mount your own over it
# Required at run time: WORDGATE_SDKAPPID (and, with authentication,
# WORDGATE_TOKEN). See "Deployment" in README.md.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
# Everything the manifest names (benches, tests, examples are declared
# targets); .dockerignore keeps target/, fuzz/ and .git out.
COPY . .
RUN cargo build --release --locked --bin wordgate

# Debian 12, like the builder, so the binary's glibc matches.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /src/target/release/wordgate /usr/local/bin/wordgate
COPY dictionaries/ /etc/wordgate/dictionaries/
COPY deploy/docker/wordgate.toml /etc/wordgate/wordgate.toml
ENV WORDGATE_CONFIG=/etc/wordgate/wordgate.toml
USER 65532:65532
EXPOSE 8080
# wordgate drains on SIGTERM: it stops accepting, fails /readyz, finishes the
# calls in flight (at most shutdown_timeout_secs) and exits 0.
STOPSIGNAL SIGTERM
# No curl in distroless: the binary probes itself. It reads the same
# configuration as `serve` (WORDGATE_CONFIG, WORDGATE_*), so it GETs /healthz
# on the configured port over loopback, over HTTPS once built-in TLS is on.
# (Docker only; Kubernetes uses the probes in deploy/kubernetes/deployment.yaml.)
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/wordgate", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/wordgate"]
CMD ["serve"]
