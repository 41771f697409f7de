"""confluent-kafka-python (librdkafka) read_committed group consumer for the fault suite: it
reads the transactional topic during the faults and commits its offsets, recording every
commit the coordinator acknowledged and what OffsetFetch returns after each (re)join.

Usage: txn_group_reader.py BOOTSTRAP TOPIC GROUP [REJOIN_S [END_IDLE_S]]
Every REJOIN_S seconds (0: never) it commits, closes its consumer and starts a new one in the
same group, which joins again and asks OffsetFetch where to start: a consumer restart, as
rolling deployments do, many times during the faults. Reads until a line "END p:o,p:o,..." arrives on stdin, then until its position reaches
those offsets (or END_IDLE_S without a record; default 35), commits a last time and exits. Prints:
  R <partition> <offset> <value>          a record read (read_committed)
  C <partition> <offset> <epoch ms>       a commit acknowledged (the offset of the next record)
  F <partition> <offset> <epoch ms>       OffsetFetch after an assignment (ms: when it was asked; -1001: none)
  E <text>                                a failed commit or fetch (retried later)
  D reached|idle                          how it stopped: at the END offsets, or idle
"""
import sys
import threading
import time
from confluent_kafka import Consumer, KafkaException, TopicPartition

bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
rejoin_s = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
# Commits every this often: many commits during each fault, few enough not to load the coordinator.
COMMIT_INTERVAL_S = 0.5
# Longer than the producer's transaction.timeout.ms: a transaction left open holds the last
# stable offset until the coordinator aborts it.
END_IDLE_S = float(sys.argv[5]) if len(sys.argv) > 5 else 35.0

end = {}
ended = threading.Event()
def watch_stdin():
    for line in sys.stdin:
        if line.startswith("END "):
            for x in line[4:].strip().split(","):
                p, o = x.split(":")
                end[int(p)] = int(o)
            break
    ended.set()
threading.Thread(target=watch_stdin, daemon=True).start()

def say(line):
    sys.stdout.write(line + "\n")

def now_ms():
    return int(time.time() * 1000)

def on_assign(consumer, partitions):
    asked = now_ms()
    try:
        for tp in consumer.committed(partitions, timeout=10):
            if tp.error is None:
                say("F %d %d %d" % (tp.partition, tp.offset, asked))
            else:
                say("E fetch %d %s" % (tp.partition, str(tp.error).replace("\n", " ")))
    except KafkaException as ex:
        say("E fetch %s" % str(ex.args[0]).replace("\n", " "))
    sys.stdout.flush()

def new_consumer():
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "isolation.level": "read_committed",
                  "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                  "topic.metadata.refresh.interval.ms": 1000, "log_level": 0})
    c.subscribe([topic], on_assign=on_assign)
    return c

consumer = new_consumer()

def commit():
    try:
        for tp in consumer.commit(asynchronous=False) or []:
            if tp.error is None and tp.offset >= 0:
                say("C %d %d %d" % (tp.partition, tp.offset, now_ms()))
    except KafkaException as ex:
        e = ex.args[0]
        # _NO_OFFSET: nothing new to commit; not a failure.
        if e.name() != "_NO_OFFSET":
            say("E commit %s" % str(e).replace("\n", " "))
    sys.stdout.flush()

position = {}
reached = False
last_commit = time.time()
joined = time.time()
last_record = time.time()
while True:
    msgs = consumer.consume(num_messages=1000, timeout=0.1)
    for m in msgs:
        if m.error():
            say("E read %s" % str(m.error()).replace("\n", " "))
            continue
        last_record = time.time()
        say("R %d %d %s" % (m.partition(), m.offset(), m.value().decode()))
        position[m.partition()] = m.offset() + 1
    if time.time() - last_commit >= COMMIT_INTERVAL_S:
        commit()
        last_commit = time.time()
    if rejoin_s > 0 and not ended.is_set() and time.time() - joined >= rejoin_s:
        commit()
        consumer.close()
        consumer = new_consumer()
        joined = time.time()
    if ended.is_set():
        assigned = consumer.assignment()
        here = {tp.partition: tp.offset for tp in consumer.position(assigned)} if assigned else {}
        # The position passes the control records too; a record's offset + 1 may not.
        reached = all(max(here.get(p, -1), position.get(p, 0)) >= o for p, o in end.items())
        if reached or time.time() - last_record > END_IDLE_S:
            break
commit()
say("D %s" % ("reached" if reached else "idle"))
sys.stdout.flush()
sys.stderr.write("position %s, end %s\n" % (position, end))
consumer.close()
