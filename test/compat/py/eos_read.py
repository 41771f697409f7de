"""Reads every partition of a topic from offset 0 to its end with confluent-kafka-python
(librdkafka) at the given isolation level, for test/compat/transactions-eos.test.ts.

Usage: eos_read.py BOOTSTRAP TOPIC PARTITIONS ISOLATION
ISOLATION is read_committed or read_uncommitted. The end is librdkafka's partition EOF (the
last stable offset under read_committed, the high watermark otherwise). Prints one JSON
line: a list per partition of [offset, value] pairs in the order received.
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, TopicPartition

bootstrap, topic, partitions, isolation = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
consumer = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": "eos-read-" + isolation,
    "isolation.level": isolation,
    "enable.auto.commit": False,
    "enable.partition.eof": True,
    "fetch.wait.max.ms": 100,
    "log_level": 0,
})
consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
seen = [[] for _ in range(partitions)]
at_eof = set()
deadline = time.time() + 60
while len(at_eof) < partitions:
    if time.time() > deadline:
        sys.exit("timed out; at EOF: %s" % sorted(at_eof))
    m = consumer.poll(0.5)
    if m is None:
        continue
    if m.error():
        if m.error().code() == KafkaError._PARTITION_EOF:
            at_eof.add(m.partition())
            continue
        sys.exit("consume error: %s" % m.error())
    at_eof.discard(m.partition())
    seen[m.partition()].append([m.offset(), m.value().decode()])
consumer.close()
print(json.dumps(seen))
