"""confluent-kafka-python (librdkafka) consuming across leader epoch changes and a seek,
driven by test/compat/leader-epochs.test.ts.

Usage: confluent_epochs.py BOOTSTRAP TOPIC COUNT SEEK_TO
Assigns partition 0 of TOPIC from offset 0 and reads until COUNT records arrived (the
test produces them while it bumps the partition's leader epoch), then seeks back to
SEEK_TO and reads to COUNT again. Prints one line per record: pass (1 or 2), offset, value
(tab-separated). librdkafka 2.1+ validates its position with OffsetForLeaderEpoch after a
leader epoch change and a seek (KIP-320) when the broker advertises it; older versions
send Fetch only. Either way it must keep consuming.
"""
import sys
import time
from confluent_kafka import Consumer, TopicPartition

bootstrap, topic, count, seek_to = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

consumer = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": "epochs-check",
    "enable.auto.commit": False,
    "topic.metadata.refresh.interval.ms": 500,
    "fetch.wait.max.ms": 100,
    # The request names librdkafka sends go to stderr, where the test counts OffsetForLeaderEpoch.
    "debug": "protocol",
})
consumer.assign([TopicPartition(topic, 0, 0)])


def read_until(pass_no, end, deadline_s):
    deadline = time.time() + deadline_s
    next_offset = None
    while time.time() < deadline:
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error() is not None:
            print("error\t%s" % msg.error(), file=sys.stderr)
            continue
        print("%d\t%d\t%s" % (pass_no, msg.offset(), msg.value().decode()))
        next_offset = msg.offset() + 1
        if next_offset >= end:
            return
    raise SystemExit("pass %d timed out at offset %s of %d" % (pass_no, next_offset, end))


read_until(1, count, 120)
consumer.seek(TopicPartition(topic, 0, seek_to))
read_until(2, count, 60)
consumer.close()
sys.stdout.flush()
