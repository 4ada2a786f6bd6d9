#!/usr/bin/env bash
# Regenerates the committed OTLP Swift code from ../shared/proto (run by hand; never during a build):
# swift-protobuf messages into Sources/OTLPProtos, grpc-swift-2 service stubs into Sources/OTLPServices.
# Needs Debian's protobuf-compiler; builds both protoc plugins from the package mirror into $WORK.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
proto="${PROTO_DIR:-$root/../shared/proto}"
work="${WORK:-/tmp/petrel-protoc-plugins}"
mirror="${MIRROR:-/opt/swift-packages}"

mkdir -p "$work"
[ -d "$work/swift-protobuf" ] || git clone -q --branch 1.39.0 "$mirror/apple/swift-protobuf.git" "$work/swift-protobuf"
[ -d "$work/grpc-swift-protobuf" ] ||
    git clone -q --branch 2.4.1 "$mirror/grpc/grpc-swift-protobuf.git" "$work/grpc-swift-protobuf"
(cd "$work/swift-protobuf" && swift build -c release --product protoc-gen-swift)
(cd "$work/grpc-swift-protobuf" && swift build -c release --product protoc-gen-grpc-swift-2)

files=$(cd "$proto" && find opentelemetry -name '*.proto' | sort)
services=$(cd "$proto" && find opentelemetry/proto/collector -name '*_service.proto' | sort)
rm -f "$root"/Sources/OTLPProtos/*.pb.swift "$root"/Sources/OTLPServices/*.grpc.swift
(cd "$proto" && protoc -I . \
    --plugin=protoc-gen-swift="$work/swift-protobuf/.build/release/protoc-gen-swift" \
    --swift_opt=Visibility=Public --swift_opt=FileNaming=PathToUnderscores \
    --swift_out="$root/Sources/OTLPProtos" $files)
(cd "$proto" && protoc -I . \
    --plugin=protoc-gen-grpc-swift-2="$work/grpc-swift-protobuf/.build/release/protoc-gen-grpc-swift-2" \
    --grpc-swift-2_opt=Visibility=Public,FileNaming=PathToUnderscores,UseAccessLevelOnImports=false \
    --grpc-swift-2_opt=ExtraModuleImports=OTLPProtos \
    --grpc-swift-2_out="$root/Sources/OTLPServices" $services)
# Generated code is not ours to format.
for file in "$root"/Sources/OTLPProtos/*.swift "$root"/Sources/OTLPServices/*.swift; do
    printf '// swift-format-ignore-file\n%s\n' "$(cat "$file")" > "$file"
done
