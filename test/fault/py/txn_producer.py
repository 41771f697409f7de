"""confluent-kafka-python (librdkafka) transactional producer for the fault suite.

Usage: txn_producer.py BOOTSTRAP TOPIC PARTITIONS TXN_ID RATE
Runs transactions until its stdin closes, at most RATE per second. Transaction n writes
one record to every partition (so it spans partitions led by different brokers), values
"tx-<n>-<i>-<count>", then commits it, or aborts it when n % ABORT_EVERY == ABORT_EVERY - 1
(after a flush, so the brokers hold the aborted records). Prints one line per outcome:
  C <n> <count> <epoch ms>     commit_transaction returned success
  X <n> <count> <epoch ms>     abort_transaction returned success (chosen, or after an abortable error)
  U <n> <count> <reason>       outcome unknown: a fatal error; the producer is created anew,
                               whose init_transactions completes or aborts it
  E <text>                     an error the script retried past
A commit that raises a retriable error is retried (librdkafka's documented contract); only a
success counts as committed.
"""
import sys
import threading
import time
from confluent_kafka import Producer, KafkaException

bootstrap, topic, partitions, txn_id, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
# Every third transaction is aborted: enough aborted records for the read_committed checks.
ABORT_EVERY = 3
# Long enough to ride out most faults and their failover (a transaction that outlives it is
# aborted by the coordinator and the instance fenced: _FENCED, fatal), short enough that one
# a dead instance left open is aborted before the run's read-back ends.
TXN_TIMEOUT_MS = 30000
CALL_TIMEOUT_S = 30

stop = threading.Event()
def watch_stdin():
    sys.stdin.read()
    stop.set()
threading.Thread(target=watch_stdin, daemon=True).start()

def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()

def now_ms():
    return int(time.time() * 1000)

def new_producer():
    while True:
        p = Producer({
            "bootstrap.servers": bootstrap,
            "transactional.id": txn_id,
            "transaction.timeout.ms": TXN_TIMEOUT_MS,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "retry.backoff.ms": 100,
            "topic.metadata.refresh.interval.ms": 1000,
            "log_level": 0,
        })
        try:
            p.init_transactions(CALL_TIMEOUT_S)
            return p
        except KafkaException as ex:
            say("E init_transactions %s" % str(ex.args[0]).replace("\n", " "))
            if stop.is_set():
                return None
            time.sleep(0.5)

def abort(p):
    """Aborts the current transaction; True when the abort returned success."""
    for _ in range(20):
        try:
            p.abort_transaction(CALL_TIMEOUT_S)
            return True
        except KafkaException as ex:
            e = ex.args[0]
            say("E abort %s" % str(e).replace("\n", " "))
            if e.fatal():
                return False
            time.sleep(0.2)
    return False

def end(p, n, count, commit):
    """Ends transaction n; returns the outcome letter and whether the producer is still usable."""
    if not commit:
        p.flush(CALL_TIMEOUT_S)
        return ("X", True) if abort(p) else ("U", False)
    while True:
        try:
            p.commit_transaction(CALL_TIMEOUT_S)
            return "C", True
        except KafkaException as ex:
            e = ex.args[0]
            say("E commit %d %s" % (n, str(e).replace("\n", " ")))
            if e.fatal():
                return "U", False
            if e.txn_requires_abort():
                return ("X", True) if abort(p) else ("U", False)
            # Retriable (a timeout, a coordinator moving): commit again.
            time.sleep(0.1)

producer = new_producer()
n = 0
interval = 1.0 / rate
next_at = time.time()
while producer is not None and not stop.is_set():
    count = partitions
    try:
        producer.begin_transaction()
        for i in range(count):
            while True:
                try:
                    producer.produce(topic, value=("tx-%d-%d-%d" % (n, i, count)).encode(), partition=i)
                    break
                except BufferError:
                    producer.poll(0.1)
        outcome, usable = end(producer, n, count, n % ABORT_EVERY != ABORT_EVERY - 1)
    except KafkaException as ex:
        e = ex.args[0]
        say("E txn %d %s" % (n, str(e).replace("\n", " ")))
        if e.fatal():
            outcome, usable = "U", False
        else:
            outcome, usable = ("X", True) if abort(producer) else ("U", False)
    if outcome == "U":
        say("U %d %d fatal" % (n, count))
    else:
        say("%s %d %d %d" % (outcome, n, count, now_ms()))
    n += 1
    if not usable:
        producer = new_producer()
    next_at += interval
    pause = next_at - time.time()
    if pause > 0:
        time.sleep(pause)
    else:
        next_at = time.time()
sys.stderr.write("transactions: %d\n" % n)
