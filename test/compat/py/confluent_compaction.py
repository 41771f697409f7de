"""confluent-kafka-python (librdkafka) writing to a compacted topic, driven by
test/compat/compaction.test.ts.

Usage: confluent_compaction.py BOOTSTRAP TOPIC RECORDS KEYS
Creates TOPIC (1 partition, cleanup.policy=compact, small segments so that most of the data
is in rolled, cleanable segments, and a dirty ratio that makes every pass clean), produces
RECORDS records over KEYS keys (key-<i % KEYS>, value-<i>), then a tombstone for key-0 and
key-1, and prints "OK" once every delivery report came back without error.
"""
import sys
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, topic, count, keys = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

admin = AdminClient({"bootstrap.servers": bootstrap})
config = {
    "cleanup.policy": "compact",
    "segment.bytes": "4096",
    "min.cleanable.dirty.ratio": "0.01",
    "delete.retention.ms": "86400000",
}
for t, f in admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1, config=config)]).items():
    f.result(timeout=30)

errors = []
def report(err, msg):
    if err is not None:
        errors.append(err.name())

# Small batches, so that the data spreads over many segments and the active one holds little.
producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "batch.num.messages": 20, "compression.type": "lz4"})
producer.list_topics(topic, timeout=30)
for i in range(count):
    producer.produce(topic, key="key-%d" % (i % keys), value="value-%d" % i, partition=0, on_delivery=report)
    if i % 100 == 99:
        producer.poll(0)
for k in (0, 1):
    producer.produce(topic, key="key-%d" % k, value=None, partition=0, on_delivery=report)
producer.flush(60)
print("OK" if not errors else "ERRORS " + ",".join(sorted(set(errors))))
