"""kafka-python round trip, driven by test/compat/python.test.ts.

Usage: kafka_python_roundtrip.py BOOTSTRAP TOPIC CODEC COUNT
Same contract as confluent_roundtrip.py; CODEC 'none' means no compression.
"""
import sys
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

bootstrap, topic, codec, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

admin = KafkaAdminClient(bootstrap_servers=bootstrap)
admin.create_topics([NewTopic(name=topic, num_partitions=1, replication_factor=1)])
admin.close()

def value_of(i):
    return "value-%d-%s" % (i, "abcdefghij" * ((i * 7919) % 21))

producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, batch_size=262144,
                         compression_type=None if codec == "none" else codec)
futures = []
for i in range(count):
    futures.append(producer.send(topic, key=("key-%d" % i).encode(), value=value_of(i).encode(), headers=[("trace", b"tributary-compat")]))
producer.flush(120)
for f in futures:
    f.get(timeout=60)
producer.close()

consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id="compat-" + topic, auto_offset_reset="earliest",
                         enable_auto_commit=False, consumer_timeout_ms=20000, max_poll_records=5000)
out = sys.stdout
seen = 0
for m in consumer:
    headers = dict(m.headers or [])
    out.write("%s\t%s\t%d\t%s\n" % (m.key.decode(), m.value.decode(), m.offset, headers.get("trace", b"").decode()))
    seen += 1
    if seen >= count:
        break
consumer.commit()
consumer.close()
