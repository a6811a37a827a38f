# skyload image for sharded runs on Kubernetes (`skyload k8s ... --image IMAGE`).
#   docker build -t registry.example/skyload:0.1 . && docker push registry.example/skyload:0.1
# Multi-stage: the release build in the Rust image, then only the binary in Debian slim (the merge
# Job's script needs a POSIX shell, which the slim image has). Not built in this repository's CI.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin skyload

FROM debian:bookworm-slim
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin skyload
COPY --from=build /src/target/release/skyload /usr/local/bin/skyload
USER 10001:10001
WORKDIR /home/skyload
ENTRYPOINT []
CMD ["skyload", "--help"]
