"""confluent-kafka-python (librdkafka) round trip, driven by test/compat/python.test.ts.

Usage: confluent_roundtrip.py BOOTSTRAP TOPIC CODEC COUNT
Creates TOPIC (1 partition) with the AdminClient, produces COUNT keyed records with a
header using compression CODEC, then consumes them in a consumer group from the start and
prints one line per record: key, value, offset, header value (tab-separated).
"""
import sys
from confluent_kafka import Consumer, Producer, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, topic, codec, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

admin = AdminClient({"bootstrap.servers": bootstrap})
for t, f in admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)]).items():
    f.result(timeout=30)

def value_of(i):
    return "value-%d-%s" % (i, "abcdefghij" * ((i * 7919) % 21))

errors = []
def on_delivery(err, msg):
    if err is not None:
        errors.append(str(err))

producer = Producer({"bootstrap.servers": bootstrap, "compression.codec": codec, "acks": "all", "linger.ms": 5})
for i in range(count):
    while True:
        try:
            producer.produce(topic, key="key-%d" % i, value=value_of(i), headers=[("trace", b"tributary-compat")], on_delivery=on_delivery)
            break
        except BufferError:
            producer.poll(0.05)
    if i % 1000 == 0:
        producer.poll(0)
remaining = producer.flush(60)
if remaining or errors:
    sys.exit("produce failed: %d undelivered, errors: %s" % (remaining, errors[:5]))

consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "compat-" + topic, "auto.offset.reset": "earliest", "enable.auto.commit": False})
consumer.subscribe([topic])
out = sys.stdout
seen = 0
idle = 0
while seen < count and idle < 200:
    msgs = consumer.consume(num_messages=10000, timeout=0.1)
    if not msgs:
        idle += 1
        continue
    idle = 0
    for m in msgs:
        if m.error():
            raise KafkaException(m.error())
        headers = dict(m.headers() or [])
        out.write("%s\t%s\t%d\t%s\n" % (m.key().decode(), m.value().decode(), m.offset(), headers.get("trace", b"").decode()))
        seen += 1
consumer.commit(asynchronous=False)
consumer.close()
