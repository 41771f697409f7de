"""confluent-kafka-python (librdkafka) idempotent acks=all producer for the fault suite.

Usage: idempotent_producer.py BOOTSTRAP TOPIC PARTITIONS CLIENT RATE
Produces records "<CLIENT>-<seq>" round-robin over PARTITIONS at about RATE records/s
until its stdin closes, then flushes. Prints one line per acknowledgement:
  A <partition> <offset> <value> <epoch ms>     (offset -1: delivered, offset not reported)
and one per failed delivery:
  E <partition> <value> <error>
and, when librdkafka raised a fatal error, one line with its reason, after which a new
producer instance (a new producer id) goes on with the next records:
  F <reason>
The caller decides whether the fatal error was the client's own (test/fault/rdk-fatal.ts
classifyRdkFatal: librdkafka <= 2.2's "sequence desynchronization" after a possibly
persisted batch, confluentinc/librdkafka#4438) or a failure.
The delivery timeout is long: a record a client gives up on is not an acknowledged one,
and with idempotence a give-up can reorder the next records, so librdkafka keeps retrying
through the failover instead.
"""
import os
import sys
import threading
import time
from confluent_kafka import KafkaError, KafkaException, Producer

bootstrap, topic, partitions, client, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])

stop = threading.Event()
def watch_stdin():
    sys.stdin.read()
    stop.set()
threading.Thread(target=watch_stdin, daemon=True).start()

lock = threading.Lock()
def on_delivery(err, msg):
    with lock:
        if err is not None:
            sys.stdout.write("E %d %s %s\n" % (msg.partition(), msg.value().decode(), str(err).replace("\n", " ")))
        else:
            # librdkafka reports a delivery without an offset (msg.offset() is None) when it
            # acks it implicitly: a ProduceRequest whose outcome was uncertain (timed out, its
            # connection lost) followed by a later one of the same partition that succeeded
            # means the first one's records were persisted, at offsets it never learnt
            # (rdkafka_request.c rd_kafka_handle_idempotent_Produce_success ->
            # rd_kafka_dr_implicit_ack). Against Kafka too. It is still acknowledged: -1, and
            # the checker looks for the value anywhere.
            offset = msg.offset()
            sys.stdout.write("A %d %d %s %d\n" % (msg.partition(), -1 if offset is None else offset, msg.value().decode(), int(time.time() * 1000)))
        sys.stdout.flush()

# TRIBUTARY_RDKAFKA_DEBUG=<librdkafka debug contexts> and TRIBUTARY_RDKAFKA_DEBUG_FILE=<path>
# write librdkafka's debug log (its stderr) to that file. Fault runs (run.ts) always set them
# (eos,msg into the run directory): the checker reads why librdkafka bumped its epoch there
# to classify duplicates (dup-classify.ts).
debug = os.environ.get("TRIBUTARY_RDKAFKA_DEBUG", "")
debug_file = os.environ.get("TRIBUTARY_RDKAFKA_DEBUG_FILE", "")
if debug_file:
    os.dup2(os.open(debug_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), 2)
extra = {"debug": debug} if debug else {}

# The reason of the last fatal error, from error_cb (which poll and flush serve).
fatal_reason = []
def on_error(err):
    if err.fatal():
        fatal_reason.append(str(err).replace("\n", " "))

def new_producer():
    return Producer({
        **extra,
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "delivery.timeout.ms": 120000,
        "message.timeout.ms": 120000,
        "topic.metadata.refresh.interval.ms": 1000,
        "retry.backoff.ms": 100,
        "error_cb": on_error,
    })

# How long a producer that raised a fatal error may take to fail what it holds (its
# requests in flight are answered or time out first, so none of its batches can land
# after the new instance's).
FATAL_FLUSH_TIMEOUT_S = 60

def replace_after_fatal(old):
    left = old.flush(FATAL_FLUSH_TIMEOUT_S)
    reason = fatal_reason[-1] if fatal_reason else "fatal error without a reason"
    with lock:
        sys.stdout.write("F %s (%d undelivered at the end)\n" % (reason, left))
        sys.stdout.flush()
    del fatal_reason[:]
    return new_producer()

producer = new_producer()
seq = 0
interval = 1.0 / rate
next_at = time.time()
while not stop.is_set():
    value = "%s-%d" % (client, seq)
    try:
        producer.produce(topic, value=value, partition=seq % partitions, on_delivery=on_delivery)
        seq += 1
    except BufferError:
        pass
    except KafkaException as ex:
        if ex.args[0].code() != KafkaError._FATAL:
            raise
        producer = replace_after_fatal(producer)
        continue
    producer.poll(0)
    next_at += interval
    pause = next_at - time.time()
    if pause > 0:
        time.sleep(pause)
left = producer.flush(120)
sys.stderr.write("flushed; %d undelivered\n" % left)
