"""Exports traces with the OpenTelemetry Python SDK over OTLP, then prints what it sent as JSON lines.

Usage: export_spans.py grpc|http ENDPOINT TRACES
An https:// ENDPOINT is reached over TLS, with the CA and client certificate the standard
OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE and _CLIENT_KEY variables name.
Every trace has a server root span with an event and a child client span linked to the previous
trace's root; every third trace ends in an error. The printed lines are the SDK's own record of
the spans, for the test to compare with what arrived.
"""
import json
import sys

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

protocol, endpoint, traces = sys.argv[1], sys.argv[2], int(sys.argv[3])
if protocol == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=endpoint, insecure=not endpoint.startswith("https://"))
else:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=endpoint + "/v1/traces")

provider = TracerProvider(
    resource=Resource.create({"service.name": "checkout", "service.version": "1.4.2", "deployment.environment": "test"})
)
memory = InMemorySpanExporter()
provider.add_span_processor(SimpleSpanProcessor(memory))
provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=64))
tracer = provider.get_tracer("petrel.test", "0.1")

previous = None
for number in range(traces):
    links = [Link(previous, {"link.kind": "follows"})] if previous else []
    with tracer.start_as_current_span("POST /orders", kind=SpanKind.SERVER, links=links) as root:
        root.set_attribute("http.request.method", "POST")
        root.set_attribute("order.items", number)
        root.set_attribute("order.tags", ["a", "b"])
        root.add_event("validated", {"ok": True})
        with tracer.start_as_current_span("SELECT stock", kind=SpanKind.CLIENT) as child:
            child.set_attribute("db.system", "postgresql")
            child.set_attribute("db.rows", 2.5)
        if number % 3 == 2:
            root.set_status(Status(StatusCode.ERROR, "out of stock"))
        previous = root.get_span_context()

ok = provider.force_flush(30_000)
provider.shutdown()
if not ok:
    sys.exit("export did not finish")

for span in memory.get_finished_spans():
    context = span.get_span_context()
    print(json.dumps({
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else "",
        "name": span.name,
        "kind": span.kind.name.lower(),
        "start": span.start_time,
        "end": span.end_time,
        "attributes": {k: list(v) if isinstance(v, tuple) else v for k, v in span.attributes.items()},
        "events": [{"name": e.name, "time": e.timestamp, "attributes": dict(e.attributes)} for e in span.events],
        "links": [{"trace_id": format(l.context.trace_id, "032x"), "span_id": format(l.context.span_id, "016x"),
                   "attributes": dict(l.attributes)} for l in span.links],
        "status": span.status.status_code.name.lower(),
        "status_message": span.status.description or "",
    }))
