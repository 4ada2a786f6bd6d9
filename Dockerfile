# Build with Swift, run on slim Debian as a non-root user; no shell is needed at run time and the
# root filesystem can be read-only (`data_dir` is the only place Petrel writes: mount a volume there).
FROM swift:6.3-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsnappy-dev zlib1g-dev libzstd-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
RUN swift build -c release --static-swift-stdlib --product petrel \
    && install -D "$(swift build -c release --show-bin-path)/petrel" /out/petrel

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsnappy1v5 zlib1g libzstd1 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/petrel \
    && chown 10001:10001 /var/lib/petrel
COPY --from=build /out/petrel /usr/local/bin/petrel
COPY config/petrel.yaml /etc/petrel/petrel.yaml
ENV PETREL_DATA_DIR=/var/lib/petrel \
    PETREL_API_ADDRESS=0.0.0.0:8686
USER 10001:10001
VOLUME ["/var/lib/petrel"]
EXPOSE 8686
ENTRYPOINT ["/usr/local/bin/petrel"]
CMD ["run", "--config", "/etc/petrel/petrel.yaml"]
