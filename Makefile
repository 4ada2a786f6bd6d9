# The two things a newcomer does: `make run` and `make test`. Both install what the build needs first.
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

# Debian packages the build links against.
BUILD_PACKAGES := libsnappy-dev zlib1g-dev libzstd-dev pkg-config
# Debian packages the tests run against (real servers, started by the tests on loopback ports),
# python3-venv for the OpenTelemetry Python SDK the tests use as a real OTLP client, and the zstd CLI as a real
# zstd compressor of request bodies.
TEST_PACKAGES := $(BUILD_PACKAGES) victoria-metrics python3-venv openssl curl prometheus zstd
# The OpenTelemetry SDK from PyPI, in a venv the integration tests find at .venv-otel.
OTEL_PYTHON_PACKAGES := opentelemetry-sdk==1.45.2 opentelemetry-exporter-otlp-proto-grpc==1.45.2 \
	opentelemetry-exporter-otlp-proto-http==1.45.2

.PHONY: run test build lint deps test-deps print-test-packages

run: deps
	$(SWIFT) run petrel run --config config/petrel.yaml

test: test-deps
	$(SWIFT) test

build: deps
	$(SWIFT) build

lint:
	$(SWIFT) format lint --strict -r Sources Tests

deps:
	@dpkg -s $(BUILD_PACKAGES) >/dev/null 2>&1 || { $(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(BUILD_PACKAGES); }

test-deps:
	@dpkg -s $(TEST_PACKAGES) >/dev/null 2>&1 || { $(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(TEST_PACKAGES); }
	@[ -x .venv-otel/bin/python ] || python3 -m venv .venv-otel
	@.venv-otel/bin/python -c "import opentelemetry.exporter.otlp.proto.grpc, opentelemetry.exporter.otlp.proto.http" \
		2>/dev/null || .venv-otel/bin/pip install --quiet $(OTEL_PYTHON_PACKAGES)

print-test-packages:
	@echo $(TEST_PACKAGES)
