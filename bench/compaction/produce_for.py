"""Producer throughput probe for bench/compaction/offsets.mjs.

Usage: produce_for.py BOOTSTRAP TOPIC SECONDS [KEYS]
Produces 1 KiB values (acks=1, lz4 off, linger 5 ms) as fast as librdkafka takes them for
SECONDS, waits for the delivery reports, and prints one line: "<acked messages> <seconds>".
With KEYS, messages are keyed key-<i % KEYS> (to fill a compacted topic); otherwise keyless.
"""
import sys, time
from confluent_kafka import Producer

bootstrap, topic, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
keys = int(sys.argv[4]) if len(sys.argv) > 4 else 0
acked = [0]
def report(err, msg):
    if err is None:
        acked[0] += 1
p = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 5, "queue.buffering.max.messages": 200000})
p.list_topics(topic, timeout=30)
value = (b"0123456789abcdef" * 64)
start = time.monotonic()
i = 0
while time.monotonic() - start < seconds:
    try:
        if keys:
            p.produce(topic, key=b"key-%d" % (i % keys), value=value, on_delivery=report)
        else:
            p.produce(topic, value=value, on_delivery=report)
        i += 1
    except BufferError:
        p.poll(0.01)
    if i % 1000 == 0:
        p.poll(0)
p.flush(60)
print("%d %.3f" % (acked[0], time.monotonic() - start))
