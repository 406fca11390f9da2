"""Reads every record of a topic with Confluent's own Python client and prints them as JSON.

Proof of wire compatibility: values are decoded by confluent_kafka's AvroDeserializer,
fetching writer schemas from the registry by the id in the Confluent framing.

usage: decode_topic.py BROKERS REGISTRY_URL TOPIC
"""

import datetime
import decimal
import json
import sys
import uuid

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def plain(value):
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def main(brokers, registry_url, topic):
    deserializer = AvroDeserializer(SchemaRegistryClient({"url": registry_url}))
    consumer = Consumer({
        "bootstrap.servers": brokers,
        "group.id": "orderflow-python-decoder",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        # Read to each partition's end event, as every reader of the log does.
        "enable.partition.eof": True,
    })
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    records = []
    at_end = set()
    idle = 0
    while len(at_end) < len(partitions) and idle < 150:
        message = consumer.poll(0.2)
        if message is None:
            idle += 1
            continue
        if message.error():
            if message.error().code() == KafkaError._PARTITION_EOF:
                at_end.add(message.partition())
                continue
            raise RuntimeError(message.error())
        context = SerializationContext(topic, MessageField.VALUE)
        value = deserializer(message.value(), context)
        records.append({
            "partition": message.partition(),
            "offset": message.offset(),
            "key": message.key().decode(),
            "schema_id": int.from_bytes(message.value()[1:5], "big"),
            "value": plain(value),
        })
    consumer.close()
    if len(at_end) < len(partitions):
        raise RuntimeError("the topic was not read to its end")
    json.dump(records, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:4])
