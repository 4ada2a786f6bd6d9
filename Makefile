# The two things a newcomer does: `make run` and `make test`. Both install what the build needs first.
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

# Debian packages the build links against.
BUILD_PACKAGES := libsnappy-dev zlib1g-dev pkg-config
# Debian packages the tests run against (real servers, started by the tests on loopback ports).
TEST_PACKAGES := $(BUILD_PACKAGES) victoria-metrics

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

print-test-packages:
	@echo $(TEST_PACKAGES)
