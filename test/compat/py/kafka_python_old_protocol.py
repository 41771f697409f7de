"""kafka-python pinned to an old protocol version, driven by test/compat/python-old-protocol.test.ts.

Usage: kafka_python_old_protocol.py BOOTSTRAP TOPIC API_VERSION CODEC COUNT
API_VERSION 0.9 makes kafka-python write message format v0 (Produce v1, Fetch v1,
ListOffsets v0); 0.10 message format v1 (Produce v2, Fetch v2, ListOffsets v1). The topic
must exist. Prints one line per message read back: key, value, offset, timestamp.
"""
import sys
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

bootstrap, topic, api, codec, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
api_version = tuple(int(x) for x in api.split("."))

producer = KafkaProducer(bootstrap_servers=bootstrap, api_version=api_version, acks="all", linger_ms=5,
                         batch_size=65536, compression_type=None if codec == "none" else codec)
futures = [producer.send(topic, key=("key-%d" % i).encode(), value=("value-%d" % i).encode(), partition=0)
           for i in range(count)]
producer.flush(60)
for f in futures:
    f.get(timeout=60)
producer.close()

consumer = KafkaConsumer(bootstrap_servers=bootstrap, api_version=api_version, enable_auto_commit=False,
                         consumer_timeout_ms=20000, max_poll_records=1000)
tp = TopicPartition(topic, 0)
consumer.assign([tp])
consumer.seek_to_beginning(tp)
seen = 0
for m in consumer:
    # Magic 0 messages have no timestamp: kafka-python gives None, printed as -1.
    ts = -1 if m.timestamp is None else m.timestamp
    sys.stdout.write("%s\t%s\t%d\t%d\n" % (m.key.decode(), m.value.decode(), m.offset, ts))
    seen += 1
    if seen >= count:
        break
consumer.close()
