# The two things a newcomer does: `make run` and `make test`. Both install what the build needs first.
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

# Debian packages the build links against.
BUILD_PACKAGES := libsnappy-dev zlib1g-dev libzstd-dev pkg-config
# Debian packages the tests run against (real servers, started by the tests on loopback ports),
# python3-venv for the OpenTelemetry Python SDK the tests use as a real OTLP client, and the zstd CLI as a real
# zstd compressor of request bodies.
# rsyslog (with its GnuTLS driver) and util-linux's logger are the syslog source's real senders; syslog-ng's
# libraries are installed here, its binary is unpacked below (its package conflicts with rsyslog's).
SYSLOG_NG_LIBRARIES := libglib2.0-0 libivykis0 libjson-c5 libnet1 libpcre3 libwrap0 libcap2 libssl3
TEST_PACKAGES := $(BUILD_PACKAGES) victoria-metrics python3-venv openssl curl prometheus prometheus-alertmanager \
	prometheus-node-exporter zstd rsyslog rsyslog-gnutls \
	bsdutils $(SYSLOG_NG_LIBRARIES)
# Debian's syslog-ng-core unpacked (not installed), where the integration tests look for it.
SYSLOG_NG_DIR := .deps/syslog-ng
# The OpenTelemetry SDK from PyPI, in a venv the integration tests find at .venv-otel.
OTEL_PYTHON_PACKAGES := opentelemetry-sdk==1.45.2 opentelemetry-exporter-otlp-proto-grpc==1.45.2 \
	opentelemetry-exporter-otlp-proto-http==1.45.2
# Elastic's official Python client, in a venv the integration tests find at .venv-elasticsearch: it keeps the test
# receiver of the `_bulk` API honest (there is no Elasticsearch server in Debian).
ELASTICSEARCH_PYTHON_PACKAGES := elasticsearch==9.5.1
# The checks of deploy/kubernetes (Tests/IntegrationTests/DeployManifestTests.swift), in a venv at .venv-deploy:
# kubernetes-validate (the Kubernetes schemas, bundled: no network at test time) and checkov. kubectl renders the
# overlays: it is on these machines (Debian's own kubernetes-client, 1.20, is too old for kustomize v5 files).
DEPLOY_PYTHON_PACKAGES := kubernetes-validate==1.37.0 checkov==3.3.30

.PHONY: run test build lint deps test-deps syslog-ng print-test-packages fuzz soak test-tsan test-asan bench bench-check bench-thresholds

run: deps
	$(SWIFT) run petrel run --config config/petrel.yaml

# At most 8 tests at once: on 2 cores, the whole suite starting together (servers, real peers, petrel processes)
# stretched the first seconds' sleeps and startups past the tests' bounds; the run takes no longer.
test: test-deps
	$(SWIFT) test --experimental-maximum-parallelization-width 8

# The suite under ThreadSanitizer or AddressSanitizer, each in a build directory of its own (the tests run the
# `petrel` built beside them, so the processes they start are sanitized too). Every report, from the test process or a
# `petrel` it started, goes to a file under the build directory; the target fails if there is one. Not part of
# `make test` (each is a cold build of ~25 CPU-minutes and a run several times slower); docs/RELIABILITY.md records
# the results.
test-tsan: test-deps
	scripts/sanitized-tests.sh thread .build-tsan
test-asan: test-deps
	scripts/sanitized-tests.sh address .build-asan

# The micro-benchmarks of the hot paths (Benchmarks/, docs/BENCHMARKS.md "Micro-benchmarks"): `bench` prints the
# figures per request; `bench-check` runs them against the malloc counts (p90) checked in under Benchmarks/Thresholds
# and fails on a regression (package-benchmark exits 2; 4 means better only). After a change that moves them on
# purpose: `make bench-thresholds`, and commit the files. Not part of `make test`: the first release build of the
# benchmark package takes ~25 CPU-minutes.
BENCHMARK := $(SWIFT) package --package-path Benchmarks
bench: deps
	$(BENCHMARK) benchmark --no-progress --scale
bench-check: deps
	$(BENCHMARK) benchmark thresholds check --path $(CURDIR)/Benchmarks/Thresholds --no-progress; \
		status=$$?; [ $$status -eq 0 ] || [ $$status -eq 4 ]
# scripts/bench-thresholds.py keeps only the malloc counts, under the file names the check reads.
bench-thresholds: deps
	$(BENCHMARK) --allow-writing-to-package-directory benchmark thresholds update --path $(CURDIR)/Benchmarks/Thresholds \
		--no-progress
	$(BENCHMARK) benchmark list 2>/dev/null | sed -n '/available benchmarks:$$/,$$p' | tail -n +2 \
		| scripts/bench-thresholds.py Benchmarks/Thresholds HotPath

build: deps
	$(SWIFT) build

lint:
	$(SWIFT) format lint --strict -r Sources Tests

# Every decoder that reads bytes from outside, fuzzed with libFuzzer and AddressSanitizer for FUZZ_SECONDS each
# (Sources/PetrelFuzz, scripts/fuzz.sh), built apart in .build-fuzz. -enable-testing lets the targets reach the sinks'
# answer readers and the disk buffer's segment reader, which are internal; Fuzz/toolset.json links with lld (gold
# cannot link the fuzzer's runtime beside SwiftPM's entry point).
FUZZ_SECONDS ?= 30
fuzz: deps
	$(SWIFT) build -c release --product PetrelFuzz --scratch-path .build-fuzz --toolset Fuzz/toolset.json \
		-Xswiftc -sanitize=fuzzer,address -Xswiftc -DPETREL_FUZZ -Xswiftc -enable-testing
	scripts/fuzz.sh $(FUZZ_SECONDS)

# A soak of the real `petrel run` (Benchmarks/Soak/soak.py, docs/RELIABILITY.md "Soak"): remote-write load from
# `petrel bench` into Petrel, forwarding to a real VictoriaMetrics stopped for 10 s every minute; Petrel's RSS, open
# files and threads sampled every 10 s; fails when VictoriaMetrics does not hold exactly the samples accepted. Debug
# build, at the script's default rate (half the maximum measured for it). Not part of `make test`.
SOAK_MINUTES ?= 10
soak: test-deps
	$(SWIFT) build --product petrel
	Benchmarks/Soak/soak.py --duration $(SOAK_MINUTES)m

deps:
	@dpkg -s $(BUILD_PACKAGES) >/dev/null 2>&1 || { $(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(BUILD_PACKAGES); }

test-deps:
	@dpkg -s $(TEST_PACKAGES) >/dev/null 2>&1 || { $(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(TEST_PACKAGES); }
	@[ -x .venv-otel/bin/python ] || python3 -m venv .venv-otel
	@.venv-otel/bin/python -c "import opentelemetry.exporter.otlp.proto.grpc, opentelemetry.exporter.otlp.proto.http" \
		2>/dev/null || .venv-otel/bin/pip install --quiet $(OTEL_PYTHON_PACKAGES)
	@[ -x .venv-elasticsearch/bin/python ] || python3 -m venv .venv-elasticsearch
	@.venv-elasticsearch/bin/python -c "import elasticsearch" 2>/dev/null \
		|| .venv-elasticsearch/bin/pip install --quiet $(ELASTICSEARCH_PYTHON_PACKAGES)
	@[ -x .venv-deploy/bin/python ] || python3 -m venv .venv-deploy
	@[ -x .venv-deploy/bin/kubernetes-validate ] && [ -x .venv-deploy/bin/checkov ] \
		|| .venv-deploy/bin/pip install --quiet $(DEPLOY_PYTHON_PACKAGES)
	@command -v kubectl >/dev/null 2>&1 || { echo "kubectl is missing: the deploy checks render deploy/kubernetes with" \
		"kubectl kustomize (kustomize v5; Debian's kubernetes-client 1.20 is too old)"; exit 1; }
	@$(MAKE) --no-print-directory syslog-ng

# syslog-ng-core conflicts with rsyslog, so it is downloaded and unpacked with dpkg-deb, then checked with ldd.
syslog-ng:
	@[ -x $(SYSLOG_NG_DIR)/usr/sbin/syslog-ng ] || { rm -rf $(SYSLOG_NG_DIR).download && \
		mkdir -p $(SYSLOG_NG_DIR).download && cd $(SYSLOG_NG_DIR).download && \
		{ apt-get download syslog-ng-core 2>/dev/null || { $(SUDO) apt-get update && apt-get download syslog-ng-core; }; } && \
		dpkg-deb -x syslog-ng-core_*.deb $(abspath $(SYSLOG_NG_DIR)) && cd .. && rm -rf $(abspath $(SYSLOG_NG_DIR)).download; }
	@missing=$$(for binary in $(SYSLOG_NG_DIR)/usr/sbin/syslog-ng $(SYSLOG_NG_DIR)/usr/lib/syslog-ng/*/*.so; do \
		LD_LIBRARY_PATH=$(SYSLOG_NG_DIR)/usr/lib/syslog-ng ldd $$binary | grep 'not found'; done | sort -u); \
		[ -z "$$missing" ] || { echo "syslog-ng in $(SYSLOG_NG_DIR) lacks libraries:"; echo "$$missing"; exit 1; }

print-test-packages:
	@echo $(TEST_PACKAGES)
