# Builds every orderflow binary; each compose service picks its own with `command:`.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake libssl-dev libsasl2-dev zlib1g-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bins

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 libsasl2-2 curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/command-service /src/target/release/projector /src/target/release/query-api \
     /src/target/release/notifier /src/target/release/fulfilment /src/target/release/schemas /src/target/release/orderflow-token /usr/local/bin/
ENV ORDERFLOW_LOG_FORMAT=json
