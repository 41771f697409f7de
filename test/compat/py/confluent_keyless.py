"""confluent-kafka-python (librdkafka) producing to a compacted topic, driven by
test/compat/produce-validation.test.ts.

Usage: confluent_keyless.py BOOTSTRAP TOPIC
Creates TOPIC (1 partition, cleanup.policy=compact), produces 100 records in one batch
(linger long enough to gather them all), every tenth one from index 3 without a key, and
prints one delivery report per record: index, error name or OK (tab-separated).
"""
import sys
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, topic = sys.argv[1], sys.argv[2]

admin = AdminClient({"bootstrap.servers": bootstrap})
for t, f in admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1, config={"cleanup.policy": "compact"})]).items():
    f.result(timeout=30)

reports = {}
def on_delivery(index):
    def report(err, msg):
        reports[index] = err.name() if err is not None else "OK"
    return report

producer = Producer({
    "bootstrap.servers": bootstrap,
    "acks": "all",
    "linger.ms": 2000,
    "batch.num.messages": 1000,
    "enable.idempotence": False,
    "retries": 0,
})
# Metadata first, so that the first record does not leave alone while the others wait.
producer.list_topics(topic, timeout=30)
for i in range(100):
    key = None if i % 10 == 3 else "key-%d" % i
    producer.produce(topic, key=key, value="value-%d" % i, partition=0, on_delivery=on_delivery(i))
producer.flush(30)
for i in range(100):
    print("%d\t%s" % (i, reports.get(i, "NO_REPORT")))
