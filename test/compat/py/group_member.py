"""One consumer-group member, driven by test/compat/groups-*.test.ts. Runs until killed.

Usage: group_member.py LIB BOOTSTRAP GROUP TOPIC [INSTANCE_ID [STRATEGY]]
LIB is "confluent" (confluent-kafka-python, librdkafka) or "kafka-python". INSTANCE_ID, when
given and not "-", makes the member static (group.instance.id; librdkafka only, kafka-python
2.0 has no static membership). STRATEGY, when given, is librdkafka's
partition.assignment.strategy (e.g. cooperative-sticky, for incremental rebalancing).

Prints one line per event, flushed at once so the test sees it while the member runs:
  ASSIGNED <p,p,...>   partitions given to this member by a rebalance (eager: all it owns;
                       cooperative: only the added ones)
  REVOKED <p,p,...>    partitions taken away by a rebalance
  RECORD <p> <offset>  a consumed record
With the environment variable COMMIT=1 the member commits synchronously after it has printed
every record of a poll (at-least-once: a record is reported before its offset is committed).
SIGTERM makes the member leave cleanly (consumer.close(), which sends LeaveGroup); SIGKILL
leaves nothing behind but its session.
The session timeout is 6000 ms (Kafka's default group.min.session.timeout.ms) and heartbeats go
every 1000 ms, so a killed member is noticed within about six seconds; SESSION_TIMEOUT_MS in
the environment sets session.timeout.ms for both clients (the test brokers accept 1000 and up).
For the confluent member, the environment can change more: RECONNECT_BACKOFF_MAX_MS caps librdkafka's reconnect backoff (by default
it doubles up to 10 s, so after a broker restart the first successful heartbeat may come
later than the session timeout, and librdkafka then gives up the assignment on its own),
RDKAFKA_DEBUG turns on librdkafka's debug contexts (logged on stderr).
"""
import os
import signal
import sys

lib, bootstrap, group, topic = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
commit = os.environ.get("COMMIT") == "1"
running = [True]
signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
instance_id = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] != "-" else None
strategy = sys.argv[6] if len(sys.argv) > 6 else None


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
        "session.timeout.ms": int(os.environ.get("SESSION_TIMEOUT_MS", "6000")),
        "heartbeat.interval.ms": 1000,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "topic.metadata.refresh.interval.ms": 2000,
    }
    if instance_id is not None:
        conf["group.instance.id"] = instance_id
    if os.environ.get("RECONNECT_BACKOFF_MAX_MS"):
        conf["reconnect.backoff.max.ms"] = int(os.environ["RECONNECT_BACKOFF_MAX_MS"])
    if os.environ.get("RDKAFKA_DEBUG"):  # e.g. "cgrp,protocol"
        conf["debug"] = os.environ["RDKAFKA_DEBUG"]
    if strategy is not None:
        conf["partition.assignment.strategy"] = strategy
    consumer = Consumer(conf)
    consumer.subscribe(
        [topic],
        on_assign=lambda c, tps: say("ASSIGNED " + parts(tps)),
        on_revoke=lambda c, tps: say("REVOKED " + parts(tps)),
    )
    while running[0]:
        msgs = consumer.consume(num_messages=500, timeout=0.2)
        for m in msgs:
            if m.error() is None:
                say("RECORD %d %d" % (m.partition(), m.offset()))
        if commit and msgs:
            try:
                consumer.commit(asynchronous=False)
            except Exception as e:  # a rebalance took the partitions: they are read again
                say("COMMIT-FAILED %s" % e)
    consumer.close()
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
        session_timeout_ms=int(os.environ.get("SESSION_TIMEOUT_MS", "6000")),
        heartbeat_interval_ms=1000,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=2000,
    )
    consumer.subscribe([topic], listener=Listener())
    while running[0]:
        polled = consumer.poll(timeout_ms=200)
        for tp, records in polled.items():
            for r in records:
                say("RECORD %d %d" % (tp.partition, r.offset))
        if commit and polled:
            try:
                consumer.commit()
            except Exception as e:  # a rebalance took the partitions: they are read again
                say("COMMIT-FAILED %s" % e)
    consumer.close()
else:
    sys.exit("unknown LIB %r" % lib)
