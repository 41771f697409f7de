"""One consumer-group member, driven by test/compat/groups-*.test.ts. Runs until killed.

Usage: group_member.py LIB BOOTSTRAP GROUP TOPIC [INSTANCE_ID]
LIB is "confluent" (confluent-kafka-python, librdkafka) or "kafka-python". INSTANCE_ID, when
given and not "-", makes the member static (group.instance.id; librdkafka only, kafka-python
2.0 has no static membership).

Prints one line per event, flushed at once so the test sees it while the member runs:
  ASSIGNED <p,p,...>   the partitions of the topic this member now owns (after a rebalance)
  REVOKED <p,p,...>    partitions taken away at the start of a rebalance
  RECORD <p> <offset>  a consumed record
The session timeout is 6000 ms (the broker's group.min.session.timeout.ms) and heartbeats go
every 1000 ms, so a killed member is noticed within about six seconds.
"""
import sys

lib, bootstrap, group, topic = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
instance_id = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] != "-" else None


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def parts(tps):
    return ",".join(str(p) for p in sorted(tp.partition for tp in tps))


if lib == "confluent":
    from confluent_kafka import Consumer

    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "topic.metadata.refresh.interval.ms": 2000,
    }
    if instance_id is not None:
        conf["group.instance.id"] = instance_id
    consumer = Consumer(conf)
    consumer.subscribe(
        [topic],
        on_assign=lambda c, tps: say("ASSIGNED " + parts(tps)),
        on_revoke=lambda c, tps: say("REVOKED " + parts(tps)),
    )
    while True:
        m = consumer.poll(0.2)
        if m is not None and m.error() is None:
            say("RECORD %d %d" % (m.partition(), m.offset()))
elif lib == "kafka-python":
    from kafka import KafkaConsumer, ConsumerRebalanceListener

    class Listener(ConsumerRebalanceListener):
        def on_partitions_assigned(self, assigned):
            say("ASSIGNED " + parts(assigned))

        def on_partitions_revoked(self, revoked):
            say("REVOKED " + parts(revoked))

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=2000,
    )
    consumer.subscribe([topic], listener=Listener())
    while True:
        for tp, records in consumer.poll(timeout_ms=200).items():
            for r in records:
                say("RECORD %d %d" % (tp.partition, r.offset))
else:
    sys.exit("unknown LIB %r" % lib)
