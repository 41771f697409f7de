/**
 * Tells librdkafka's own fatal OUT_OF_ORDER_SEQUENCE_NUMBER from one the broker caused
 * (issue #15, docs/reliability.md "librdkafka 2.0.2's fatal sequence desynchronization").
 *
 * librdkafka up to 2.2 (Debian ships 2.0.2) advances its "next sequence to be acknowledged"
 * past a batch that failed with an outcome it cannot know (its connection lost, a timeout:
 * actions MsgPossiblyPersisted), "allowing the next in-flight response to be successful"
 * (rdkafka_request.c rd_kafka_handle_Produce_error, 2.0.2). When that batch was in fact NOT
 * written and the broker answers the batch after it OUT_OF_ORDER_SEQUENCE_NUMBER, as Kafka
 * must, librdkafka takes that batch for the head of its in-flight requests and raises a
 * fatal "sequence desynchronization" error. Fixed in librdkafka 2.3.0
 * (confluentinc/librdkafka#4438: a possibly persisted batch is treated as not persisted).
 *
 * Seen in a fault run under load: the leader of partition 0 was SIGKILLed with seqs 155 and
 * 156 in flight (both _TRANSPORT, MsgPossiblyPersisted: next ack seq 157); the new leader,
 * whose ISR was below min.insync.replicas, refused 155 and 156 NOT_ENOUGH_REPLICAS before
 * writing them (Kafka's Partition.appendRecordsToLeader); the ISR grew back and the next
 * batch, base seq 157, was rightly answered OUT_OF_ORDER (the leader's last seq was 154).
 *
 * A fatal error is 'client' only when all of this holds, from the producer's debug log
 * (debug=msg,eos) and the brokers' segment files:
 *  - it is the "sequence desynchronization" fatal for topic T, partition P, producer id X,
 *    epoch E, base seq S (the batch answered OUT_OF_ORDER, librdkafka's next sequence N = S),
 *    or the bug's other form, "rewound sequence number" (base seq S < next seq N);
 *  - the same producer instance logged, for T [P] and since its bump to epoch E, a batch with
 *    base seq b and n messages, b + n = N, that failed with MsgPossiblyPersisted (what moved
 *    librdkafka's next sequence to N), and none delivered with b + n = N;
 *  - no broker's log holds sequence S - 1 of producer X, epoch E, in partition P: the broker
 *    expected a sequence below S, so OUT_OF_ORDER was Kafka's answer.
 * Anything else is 'unexplained' and fails the run.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { scanBatches } from './dup-classify.js';

export interface ClassifiedFatal {
  readonly kind: 'client' | 'unexplained';
  /** The fatal error, then why it is (or is not) librdkafka's own. */
  readonly reason: string;
}

const DESYNC = /ProduceRequest for (\S+) \[(\d+)\] with \d+ message\(s\) failed due to sequence desynchronization with broker -?\d+ \(PID\{Id:(\d+),Epoch:(\d+)\}, base seq (\d+)/;
/** The same bug's other form: librdkafka's next sequence had moved past the batch answered OUT_OF_ORDER. */
const REWOUND = /ProduceRequest for (\S+) \[(\d+)\] with \d+ message\(s\) failed with rewound sequence number on broker -?\d+ \(PID\{Id:(\d+),Epoch:(\d+)\}, base seq (\d+) < next seq (\d+)/;
const INSTANCE = /\|(rdkafka#producer-\d+)\|/;
const MSGSET = /: (\S+) \[(\d+)\]: MessageSet with (\d+) message\(s\) \(MsgId \d+, BaseSeq (-?\d+)\) (delivered|encountered error: .* \(actions ([A-Za-z,]*)\))/;

/** Sequence ranges of producer `producerId` at `epoch` in a topic partition, over every broker's segment files in `runDir`. */
export function sequencesWritten(runDir: string, topic: string, partition: number, producerId: number, epoch: number): [number, number][] {
  const out: [number, number][] = [];
  const dataDirs = existsSync(runDir) ? readdirSync(runDir).filter((n) => /^data-\d+$/.test(n)) : [];
  for (const d of dataDirs) {
    const dir = join(runDir, d, `${topic}-${partition}`);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.log'))) {
      let buf: Buffer;
      try { buf = readFileSync(join(dir, f)); } catch { continue; }
      for (const { h, last } of scanBatches(buf)) {
        if (h.producerId === producerId && h.producerEpoch === epoch && h.baseSequence >= 0) out.push([h.baseSequence, h.baseSequence + (last - h.baseOffset)]);
      }
    }
  }
  return out;
}

/** Classifies one fatal error of the librdkafka idempotent producer (`reason` as its error_cb gave it). */
export function classifyRdkFatal(reason: string, debugLog: string | undefined, written: (topic: string, partition: number, producerId: number, epoch: number) => [number, number][]): ClassifiedFatal {
  const out = (kind: ClassifiedFatal['kind'], why: string): ClassifiedFatal => ({ kind, reason: `${reason}: ${why}` });
  const m = DESYNC.exec(reason) ?? REWOUND.exec(reason);
  if (m === null) return out('unexplained', 'not librdkafka\'s "sequence desynchronization" or "rewound sequence number" fatal error');
  const [topic, partition, producerId, epoch, seq] = [m[1]!, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])];
  // Where librdkafka's next expected sequence was: the head batch's own (desynchronization),
  // or past it (rewound).
  const nextSeq = m[6] === undefined ? seq : Number(m[6]);
  if (debugLog === undefined) return out('unexplained', 'no librdkafka debug log');
  const lines = debugLog.split('\n');
  const head = new RegExp(`PID\\{Id:${producerId},Epoch:${epoch}\\}, base seq ${seq}\\D`);
  const fatalAt = lines.findIndex((l) => l.includes('|FATAL|') && head.test(l) && l.includes(`${topic} [${partition}]`));
  const instance = fatalAt < 0 ? undefined : INSTANCE.exec(lines[fatalAt]!)?.[1];
  if (instance === undefined) return out('unexplained', 'the debug log has no such FATAL line');
  // The same instance's lines of this epoch: after its bump to it (epoch 0: from its start).
  let from = 0;
  for (let i = 0; i < fatalAt; i++) if (lines[i]!.includes(`|${instance}|`) && lines[i]!.includes(`bumped epoch to PID{Id:${producerId},Epoch:${epoch}}`)) from = i;
  let possiblyPersisted: string | undefined;
  for (let i = from; i < fatalAt; i++) {
    const line = lines[i]!;
    if (!line.includes(`|${instance}|`) || !line.includes('|MSGSET|')) continue;
    const b = MSGSET.exec(line);
    if (b === null || b[1] !== topic || Number(b[2]) !== partition || Number(b[4]) + Number(b[3]) !== nextSeq) continue;
    if (b[5] === 'delivered') return out('unexplained', `the batch before seq ${nextSeq} was delivered: ${line.trim()}`);
    if ((b[6] ?? '').split(',').includes('MsgPossiblyPersisted')) possiblyPersisted = line.trim();
  }
  if (possiblyPersisted === undefined) return out('unexplained', `no batch ending at seq ${nextSeq - 1} failed with MsgPossiblyPersisted in this epoch`);
  const holding = written(topic, partition, producerId, epoch).filter(([lo, hi]) => lo <= seq - 1 && seq - 1 <= hi);
  if (holding.length > 0) return out('unexplained', `a broker wrote seq ${seq - 1} (batch ${holding[0]![0]}..${holding[0]![1]}): OUT_OF_ORDER for ${seq} was the broker's error`);
  return out('client', `librdkafka <= 2.2 counted a possibly persisted batch as acknowledged (confluentinc/librdkafka#4438); no broker wrote seq ${seq - 1}, so OUT_OF_ORDER was Kafka's answer: ${possiblyPersisted}`);
}
