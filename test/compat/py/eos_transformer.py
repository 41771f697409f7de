"""confluent-kafka-python (librdkafka) exactly-once consume-transform-produce, driven by
test/compat/transactions-eos.test.ts while the test SIGKILLs and restarts the broker.

Usage: eos_transformer.py BOOTSTRAP IN_TOPIC OUT_TOPIC GROUP TRANSACTIONAL_ID TOTAL SEED ABORT_RATE BATCH

Reads IN_TOPIC in GROUP with isolation.level=read_committed and, per batch of at most BATCH records, writes
one output record per input (same partition, same key and value) to OUT_TOPIC inside a
transaction together with the consumer's positions (send_offsets_to_transaction). With
probability ABORT_RATE (random.Random(SEED)) the transaction is aborted on purpose. The
error handling is the one confluent-kafka-python's documentation prescribes:
- a retriable error from commit_transaction / init_transactions: call it again;
- an abortable error (txn_requires_abort): abort_transaction, then rewind;
- a fatal error (or anything else): a new producer with the same transactional.id, whose
  init_transactions fences the old one and completes or aborts its transaction, then rewind.
Rewind = seek every assigned partition to its committed offset (consumer.committed, which
with read_committed asks for stable offsets), as exactly-once applications do.

Exits once the committed offsets cover all TOTAL input records. Prints progress lines to
stdout ("PROGRESS <committed records>"), then one JSON line with the counters; errors seen
go to stderr.
"""
import json
import random
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

bootstrap, in_topic, out_topic, group, txn_id = sys.argv[1:6]
total, seed, abort_rate, batch = int(sys.argv[6]), int(sys.argv[7]), float(sys.argv[8]), int(sys.argv[9])
rng = random.Random(seed)
stats = {"commits": 0, "aborts": 0, "errors": 0, "reinits": 0, "rewinds": 0, "client_errors": 0}


def on_client_error(err):
    """librdkafka's error_cb: connection losses it recovers from itself (the broker's kills)."""
    stats["client_errors"] += 1


# Short backoffs: the broker comes back within seconds of a SIGKILL, and the test is timed.
COMMON = {
    "bootstrap.servers": bootstrap,
    "reconnect.backoff.ms": 50,
    "reconnect.backoff.max.ms": 500,
    "log_level": 0,
    "error_cb": on_client_error,
}
PRODUCER = dict(COMMON, **{
    "transactional.id": txn_id,
    "transaction.timeout.ms": 20000,
    "message.timeout.ms": 20000,
    "linger.ms": 5,
})
consumer = Consumer(dict(COMMON, **{
    "group.id": group,
    "isolation.level": "read_committed",
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "session.timeout.ms": 10000,
    "heartbeat.interval.ms": 500,
    "fetch.wait.max.ms": 100,
}))
consumer.subscribe([in_topic])
committed = {}  # partition -> committed offset, as last known


def note(what, err):
    stats["errors"] += 1
    sys.stderr.write("%s: %s\n" % (what, err))
    sys.stderr.flush()


def progress():
    print("PROGRESS %d" % sum(committed.values()), flush=True)


def new_producer():
    while True:
        p = Producer(PRODUCER)
        while True:
            try:
                p.init_transactions(30)
                return p
            except KafkaException as e:
                note("init_transactions", e.args[0])
                if not e.args[0].retriable():
                    break
                time.sleep(0.2)


def rewind():
    """Seeks every assigned partition back to its committed offset."""
    stats["rewinds"] += 1
    while True:
        parts = consumer.assignment()
        if not parts:
            return
        try:
            offsets = consumer.committed(parts, timeout=30)
            for tp in offsets:
                offset = tp.offset if tp.offset >= 0 else 0
                committed[tp.partition] = offset
                consumer.seek(TopicPartition(tp.topic, tp.partition, offset))
            return
        except KafkaException as e:
            note("rewind", e.args[0])
            time.sleep(0.2)
            consumer.poll(0)


def commit(p):
    """commit_transaction, called again while it reports a retriable error."""
    while True:
        try:
            p.commit_transaction(30)
            return
        except KafkaException as e:
            if not e.args[0].retriable():
                raise
            note("commit_transaction (retriable)", e.args[0])


producer = new_producer()
while True:
    msgs = consumer.consume(num_messages=batch, timeout=0.5)
    good = []
    for m in msgs:
        if m.error():
            note("consume", m.error())
        else:
            good.append(m)
    if not good:
        if len(committed) == 3 and sum(committed.values()) >= total:
            break
        if not committed and consumer.assignment():
            rewind()  # learns the committed offsets it starts from
        continue
    try:
        producer.begin_transaction()
        for m in good:
            producer.produce(out_topic, key=m.key(), value=m.value(), partition=m.partition())
        positions = [tp for tp in consumer.position(consumer.assignment()) if tp.offset >= 0]
        producer.send_offsets_to_transaction(positions, consumer.consumer_group_metadata(), 30)
        if rng.random() < abort_rate:
            # abort_transaction purges what the client still holds: send it first, so the
            # broker holds aborted records for the read_uncommitted check.
            producer.flush(30)
            producer.abort_transaction(30)
            stats["aborts"] += 1
            rewind()
            continue
        commit(producer)
        stats["commits"] += 1
        for tp in positions:
            committed[tp.partition] = tp.offset
        progress()
    except KafkaException as e:
        err = e.args[0]
        note("transaction", err)
        if err.txn_requires_abort() and not err.fatal():
            try:
                producer.abort_transaction(30)
            except KafkaException as e2:
                note("abort_transaction", e2.args[0])
                stats["reinits"] += 1
                producer = new_producer()
        else:
            stats["reinits"] += 1
            producer = new_producer()
        rewind()

consumer.close()
progress()
print(json.dumps(stats), flush=True)
