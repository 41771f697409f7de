"""confluent-kafka-python (librdkafka) group consumer for the fault suite's read-back.

Usage: group_reader.py BOOTSTRAP TOPIC GROUP END_OFFSETS
END_OFFSETS is "p:end,p:end,...": reads in group GROUP from the earliest offset until every
partition has reached its end offset, commits, and prints one line per record:
  R <partition> <offset> <value>
"""
import sys
from confluent_kafka import Consumer, KafkaException

bootstrap, topic, group, ends = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
end = {int(p): int(o) for p, o in (x.split(":") for x in ends.split(","))}
consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                     "enable.auto.commit": False, "session.timeout.ms": 10000, "isolation.level": "read_uncommitted"})
consumer.subscribe([topic])
position = {p: 0 for p in end}
out = sys.stdout
idle = 0
while any(position[p] < end[p] for p in end) and idle < 600:
    msgs = consumer.consume(num_messages=10000, timeout=0.1)
    if not msgs:
        idle += 1
        continue
    idle = 0
    for m in msgs:
        if m.error():
            raise KafkaException(m.error())
        out.write("R %d %d %s\n" % (m.partition(), m.offset(), m.value().decode()))
        position[m.partition()] = m.offset() + 1
sys.stderr.write("read up to %s (end offsets %s), idle polls %d\n" % (position, end, idle))
if any(position[p] > 0 for p in position):
    consumer.commit(asynchronous=False)
consumer.close()
if any(position[p] < end[p] for p in end):
    sys.exit("stopped at %s before the end offsets %s" % (position, end))
