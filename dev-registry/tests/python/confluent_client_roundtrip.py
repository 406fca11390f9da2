#!/usr/bin/env python3
"""Drive the dev schema registry with Confluent's own Python client.

Usage: confluent_client_roundtrip.py REGISTRY_URL

Exercises the calls Confluent's serialisers and tooling make (register, fetch by id,
lookup, versions, compatibility settings and checks) and round-trips a record through
AvroSerializer/AvroDeserializer. Prints a JSON summary on stdout and exits non-zero on
the first failure, so the Rust test that runs it can compare ids with what the
registry reports over HTTP. Expects a fresh registry (the subject must not exist yet).
"""

import json
import sys
import traceback

from confluent_kafka.schema_registry import (
    Schema,
    SchemaRegistryClient,
    topic_record_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

TOPIC = "orders.events"
SUBJECT = "orders.events-com.orderflow.events.Probe"

V1 = {
    "type": "record",
    "name": "Probe",
    "namespace": "com.orderflow.events",
    "fields": [
        {"name": "order_id", "type": "string"},
        {"name": "quantity", "type": "int"},
    ],
}
# Backward compatible: the new field has a default.
V2 = {**V1, "fields": V1["fields"] + [{"name": "note", "type": ["null", "string"], "default": None}]}
# Not backward compatible: a new field without a default.
INCOMPATIBLE = {**V1, "fields": V1["fields"] + [{"name": "amount", "type": "long"}]}


def check(condition, message):
    """Like assert, but survives `python -O`."""
    if not condition:
        raise AssertionError(message)


def avro(schema):
    return Schema(json.dumps(schema), "AVRO")


def main(url):
    client = SchemaRegistryClient({"url": url})

    v1_id = client.register_schema(SUBJECT, avro(V1))
    check(client.register_schema(SUBJECT, avro(V1)) == v1_id, "re-registering changed the id")

    fetched = client.get_schema(v1_id)
    check(json.loads(fetched.schema_str) == V1, f"get_schema returned {fetched.schema_str}")
    check(fetched.schema_type == "AVRO", f"schema type {fetched.schema_type}")

    looked_up = client.lookup_schema(SUBJECT, avro(V1))
    check(looked_up.schema_id == v1_id, f"lookup id {looked_up.schema_id} != {v1_id}")
    check(looked_up.version == 1, f"lookup version {looked_up.version}")

    client.set_compatibility(SUBJECT, "BACKWARD")
    compatibility = client.get_compatibility(SUBJECT)
    check(compatibility == "BACKWARD", f"compatibility {compatibility}")
    check(client.test_compatibility(SUBJECT, avro(V2)) is True, "V2 should be compatible")
    check(client.test_compatibility(SUBJECT, avro(INCOMPATIBLE)) is False, "INCOMPATIBLE accepted")

    rejected_status = None
    try:
        client.register_schema(SUBJECT, avro(INCOMPATIBLE))
    except SchemaRegistryError as error:
        rejected_status = (error.http_status_code, error.error_code)
    check(rejected_status == (409, 409), f"incompatible registration gave {rejected_status}")

    # The serializer registers V2 itself (auto.register.schemas) under the
    # topic-record subject, which is SUBJECT for this record and topic.
    serializer = AvroSerializer(
        client,
        json.dumps(V2),
        conf={
            "auto.register.schemas": True,
            "subject.name.strategy": topic_record_subject_name_strategy,
        },
    )
    context = SerializationContext(TOPIC, MessageField.VALUE)
    record = {"order_id": "o-1", "quantity": 3, "note": "fragile"}
    payload = serializer(record, context)
    check(payload[0] == 0, f"magic byte {payload[0]}")
    serialized_id = int.from_bytes(payload[1:5], "big")

    latest = client.get_latest_version(SUBJECT)
    check(latest.schema_id == serialized_id, f"latest id {latest.schema_id} != {serialized_id}")
    check(latest.version == 2, f"latest version {latest.version}")
    versions = client.get_versions(SUBJECT)
    check(versions == [1, 2], f"versions {versions}")

    # A fresh client has nothing cached, so deserialising must fetch the writer schema.
    deserializer = AvroDeserializer(SchemaRegistryClient({"url": url}))
    decoded = deserializer(payload, context)
    check(decoded == record, f"decoded {decoded}")

    return {
        "subject": SUBJECT,
        "v1_id": v1_id,
        "v2_id": serialized_id,
        "latest_version": latest.version,
        "versions": versions,
        "compatibility": compatibility,
        "incompatible_status": list(rejected_status),
        "decoded": decoded,
    }


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} REGISTRY_URL", file=sys.stderr)
        sys.exit(2)
    try:
        summary = main(sys.argv[1])
    except Exception:  # noqa: BLE001 - any failure must fail the calling test
        traceback.print_exc()
        sys.exit(1)
    print(json.dumps(summary))
