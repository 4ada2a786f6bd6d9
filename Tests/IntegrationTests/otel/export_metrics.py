"""Exports one collection of metrics with the OpenTelemetry Python SDK over OTLP.

Usage: export_metrics.py grpc|http ENDPOINT
A counter, an up-down counter, a histogram and a gauge with known values and attributes, cumulative
temporality, so that their Prometheus names and values can be checked where they land.
"""
import sys

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

protocol, endpoint = sys.argv[1], sys.argv[2]
if protocol == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

    exporter = OTLPMetricExporter(endpoint=endpoint, insecure=True)
else:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    exporter = OTLPMetricExporter(endpoint=endpoint + "/v1/metrics")

reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
provider = MeterProvider(
    resource=Resource.create({"service.name": "checkout", "service.instance.id": "pod-7", "cloud.region": "eu-west-1"}),
    metric_readers=[reader],
    views=[View(instrument_name="http.server.request.duration",
                aggregation=ExplicitBucketHistogramAggregation([0.1, 0.5, 1.0]))],
)
meter = provider.get_meter("petrel.test", "0.1")

requests = meter.create_counter("http.server.requests", unit="{request}", description="Requests served.")
requests.add(3, {"http.route": "/orders", "http.response.status_code": 200})
requests.add(1, {"http.route": "/orders", "http.response.status_code": 500})
duration = meter.create_histogram("http.server.request.duration", unit="s", description="Request duration.")
for value in (0.05, 0.2, 0.7, 2.0):
    duration.record(value, {"http.route": "/orders"})
inflight = meter.create_up_down_counter("http.server.active_requests", unit="{request}")
inflight.add(5)
inflight.add(-2)
meter.create_observable_gauge(
    "process.memory.usage", unit="By", callbacks=[lambda options: [Observation(1048576, {"kind": "rss"})]]
)

provider.force_flush(30_000)
provider.shutdown()
