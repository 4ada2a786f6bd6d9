"""Posts documents to a `_bulk` receiver with Elastic's official Python client, as an application would.

Usage: bulk_with_client.py URL. Prints one JSON line: how many items the client counted as stored, and each failed
item's action, status and error type.
"""

import json
import sys

from elasticsearch import Elasticsearch, helpers


def main():
    # http_compress gzips the request bodies, as Petrel's sink does by default.
    client = Elasticsearch(sys.argv[1], request_timeout=10, http_compress=True)
    actions = [
        {
            "_op_type": "index",
            "_index": "client-2026.12.07",
            "_id": f"doc-{i}",
            "_source": {
                "message": f"client message {i}",
                "@timestamp": "2026-12-07T01:02:03.000Z",
                "n": i,
                "k8s.pod.name": "api-1",
            },
        }
        for i in range(50)
    ]
    actions.append(
        {
            "_op_type": "create",
            "_index": "logs-client-default",
            "_source": {"message": "into a data stream", "@timestamp": "2026-12-07T01:02:03Z"},
        }
    )
    # A string where the index mapped a number: a mapping error for this item alone.
    actions.append(
        {"_op_type": "index", "_index": "client-2026.12.07", "_id": "bad", "_source": {"message": "bad", "n": "x"}}
    )
    stored, errors = helpers.bulk(client, actions, chunk_size=20, raise_on_error=False)
    failed = [
        {"action": action, "status": result["status"], "type": result["error"]["type"]}
        for error in errors
        for action, result in error.items()
    ]
    print(json.dumps({"stored": stored, "failed": failed}))


if __name__ == "__main__":
    main()
