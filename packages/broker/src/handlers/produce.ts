/**
 * Produce (api key 0), versions 3-11.
 *
 * Behaviour (Kafka's KafkaApis.handleProduceRequest + ReplicaManager.appendRecords):
 * - acks must be -1, 0 or 1 (else INVALID_REQUIRED_ACKS on every partition).
 * - Each partition carries exactly one v2 record batch; it is validated (size, magic, CRC,
 *   counts, framing, compression, timestamps), sequence-checked for idempotent producers,
 *   given offsets and the leader epoch in place, and appended. Errors are per partition.
 * - acks=0: no response at all (NO_RESPONSE); acks=1: answered once written to the log;
 *   acks=-1: answered once on every in-sync replica (here: this broker) and, with
 *   flush.durable.acks, fdatasync'ed.
 * - LogAppendTime topics report the broker's append time (else -1).
 *
 * Versions 0-2 carry message format v0/v1 record sets, which Tributary does not store
 * (as Kafka 4, KIP-896): they are not advertised.
 *
 * Differences from Kafka: there is no transaction coordinator yet, so a produce with a
 * transactional id is refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED (a transactional
 * producer cannot get this far anyway: InitProducerId with a transactional id is refused
 * first). An acks=0 produce that fails is logged; Kafka closes the connection instead.
 */
import {
  ErrorCode,
  type ProduceRequest,
  type ProduceResponse,
  type ProduceResponsePartitionProduceResponse,
  type ProduceResponseTopicProduceResponse,
} from '@tributary/protocol';
import { NO_RESPONSE, type Handler } from './registry.js';
import type { PartitionAppendResult } from '../replica/replica-manager.js';

export const produceHandler: Handler<ProduceRequest, ProduceResponse> = {
  apiKey: 0,
  name: 'Produce',
  minVersion: 3,
  maxVersion: 11,

  async handle(req, ctx) {
    const { replicaManager } = ctx.broker;
    const version = ctx.header.apiVersion;
    const acks = req.acks;
    const nowMs = Date.now();
    if (acks !== -1 && acks !== 0 && acks !== 1) {
      return errorResponse(req, ErrorCode.INVALID_REQUIRED_ACKS);
    }
    if (req.transactionalId !== null && req.transactionalId !== undefined) {
      return errorResponse(req, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'Transactions are not supported by this broker yet');
    }
    // Start every partition's append synchronously, in request order (see ReplicaManager).
    const pending: Promise<PartitionAppendResult>[][] = req.topicData.map((topic) =>
      topic.partitionData.map((p) =>
        replicaManager.append({ topic: topic.name, partition: p.index, records: p.records, acks, produceVersion: version, nowMs }),
      ),
    );
    const responses: ProduceResponseTopicProduceResponse[] = [];
    for (let t = 0; t < req.topicData.length; t++) {
      const topic = req.topicData[t]!;
      const partitionResponses: ProduceResponsePartitionProduceResponse[] = [];
      const results = await Promise.all(pending[t]!);
      for (let i = 0; i < results.length; i++) {
        const r = results[i]!;
        partitionResponses.push({
          index: topic.partitionData[i]!.index,
          errorCode: r.errorCode,
          baseOffset: r.baseOffset,
          logAppendTimeMs: r.logAppendTimeMs,
          logStartOffset: r.logStartOffset,
          recordErrors: r.recordErrors,
          errorMessage: r.errorMessage,
        });
      }
      responses.push({ name: topic.name, partitionResponses });
    }
    if (acks === 0) {
      const failed = responses.some((t) => t.partitionResponses.some((p) => p.errorCode !== ErrorCode.NONE));
      // Kafka closes an acks=0 producer's connection on an error so that it notices.
      if (failed) ctx.logger.warn('acks=0 produce failed on some partitions; the client is not told', { topics: responses.map((r) => r.name) });
      return NO_RESPONSE;
    }
    return { responses, throttleTimeMs: 0 };
  },

  errorResponse(req, errorCode) {
    return errorResponse(req, errorCode);
  },
};

function errorResponse(req: ProduceRequest, errorCode: number, errorMessage: string | null = null): ProduceResponse {
  return {
    throttleTimeMs: 0,
    responses: req.topicData.map((topic) => ({
      name: topic.name,
      partitionResponses: topic.partitionData.map((p) => ({
        index: p.index,
        errorCode,
        baseOffset: -1,
        logAppendTimeMs: -1,
        logStartOffset: -1,
        recordErrors: [],
        errorMessage,
      })),
    })),
  };
}

