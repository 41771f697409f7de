"""pyload: the TLS bench's confluent-kafka-python client (bench/macro/tls.mjs, TLS_BENCH_CLIENT=python).

Debian's python3-confluent-kafka 1.7.0 on Debian's librdkafka 2.0.2; run with /usr/bin/python3.
One mode per run, one JSON line on stdout like tribload's:

  produce  -n records of -s bytes, null keys, Producer.produce() per record with poll(0),
           then flush(); timed from the first produce() to the end of flush().
  consume  reads -n records from offset 0 of every partition with assign() (no group join,
           as tribload), consume(1000) in a loop; timed from assign() to the n-th record.

Configuration: librdkafka's defaults (linger.ms 5, batch.size 1000000, acks all) but
acks=1 (tribload's) and socket.nagle.disable (tribload's); --tls-ca adds
security.protocol=ssl and ssl.ca.location. -X key=value adds properties to both modes.
"""
import argparse
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition


def main():
    p = argparse.ArgumentParser()
    p.add_argument('mode', choices=['produce', 'consume'])
    p.add_argument('-b', default='127.0.0.1:9092')
    p.add_argument('-t', default='bench')
    p.add_argument('-n', type=int, default=100000)
    p.add_argument('-s', type=int, default=1024)
    p.add_argument('--tls-ca')
    p.add_argument('-X', action='append', default=[])
    a = p.parse_args()
    conf = {'bootstrap.servers': a.b, 'client.id': 'pyload', 'socket.nagle.disable': True}
    if a.tls_ca:
        conf.update({'security.protocol': 'ssl', 'ssl.ca.location': a.tls_ca})
    for kv in a.X:
        k, _, v = kv.partition('=')
        conf[k] = v

    if a.mode == 'produce':
        conf['acks'] = '1'
        failed = []

        def on_delivery(err, _msg):
            if err is not None and len(failed) < 1:
                failed.append(str(err))

        producer = Producer(conf)
        value = (b'abcdefghijklmnopqrstuvwxyz' * (a.s // 26 + 1))[:a.s]
        started = time.monotonic()
        for _ in range(a.n):
            while True:
                try:
                    producer.produce(a.t, value, on_delivery=on_delivery)
                    break
                except BufferError:  # queue.buffering.max.messages reached: wait for acks
                    producer.poll(0.01)
            producer.poll(0)
        left = producer.flush(600)
        seconds = time.monotonic() - started
        if left or failed:
            fail(a.mode, f'{left} records not delivered; first error: {failed[:1]}')
        report(a.mode, a.n, a.n * a.s, seconds)
    else:
        conf.update({'group.id': 'pyload', 'enable.auto.commit': False, 'auto.offset.reset': 'earliest'})
        consumer = Consumer(conf)
        meta = consumer.list_topics(a.t, timeout=30)
        partitions = sorted(meta.topics[a.t].partitions)
        started = time.monotonic()
        consumer.assign([TopicPartition(a.t, p, 0) for p in partitions])
        received = 0
        nbytes = 0
        deadline = started + 600
        while received < a.n and time.monotonic() < deadline:
            for m in consumer.consume(1000, 0.1):
                if m.error() is None:
                    received += 1
                    nbytes += len(m.value())
        seconds = time.monotonic() - started
        consumer.close()
        if received < a.n:
            fail(a.mode, f'timed out after {received} of {a.n} records')
        report(a.mode, received, nbytes, seconds)


def report(mode, count, nbytes, seconds):
    print(json.dumps({'tool': 'pyload', 'mode': mode, 'count': count, 'seconds': round(seconds, 3),
                      'msgs_per_s': count / seconds, 'mb_per_s': nbytes / seconds / 1e6}))


def fail(mode, message):
    print(f'pyload: {message}', file=sys.stderr)
    print(json.dumps({'tool': 'pyload', 'mode': mode, 'error': message}))
    sys.exit(1)


if __name__ == '__main__':
    main()
