"""Produces one record per key with librdkafka's murmur2_random partitioner (the Java
client's default) and prints which partition each key landed in, as JSON.

usage: partition_keys.py BROKERS TOPIC KEY...
"""

import json
import sys

from confluent_kafka import Producer


def main(brokers, topic, keys):
    producer = Producer({"bootstrap.servers": brokers, "partitioner": "murmur2_random"})
    placed = {}

    def report(err, message):
        if err is not None:
            raise RuntimeError(err)
        placed[message.key().decode()] = message.partition()

    for key in keys:
        producer.produce(topic, key=key.encode(), value=b"probe", on_delivery=report)
    producer.flush(10)
    json.dump(placed, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
