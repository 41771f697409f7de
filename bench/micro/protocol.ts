// The generated codecs on the broker's hot paths, each over a realistic message:
//  - decode a ProduceRequest v9 (header + body) carrying one 1 MiB batch; the records
//    field must come out as a slice of the input, never a copy (checked before timing);
//  - encode a FetchResponse v12 frame (size prefix, header, body) with 1 MiB of records
//    appended by reference, as the broker hands Writer.chunks() to socket.writev;
//  - encode, and decode, a Metadata v12 response of 10 topics x 100 partitions (1,000
//    partitions, 3 replicas each) on 3 brokers.
// MB/s counts the whole frame's bytes; ops/s is frames per second.
// Run: node --conditions=source --import tsx bench/micro/protocol.ts
import assert from 'node:assert/strict';
import { encodeBatchSync } from '../../packages/protocol/src/records/batch-encode.js';
import { Reader } from '../../packages/protocol/src/codec/reader.js';
import { Writer } from '../../packages/protocol/src/codec/writer.js';
import { decodeRequestHeader, encodeRequestHeader } from '../../packages/protocol/src/messages/request-header.js';
import { encodeResponseHeader } from '../../packages/protocol/src/messages/response-header.js';
import { decodeProduceRequest, encodeProduceRequest, type ProduceRequest } from '../../packages/protocol/src/messages/produce-request.js';
import { encodeFetchResponse, type FetchResponse } from '../../packages/protocol/src/messages/fetch-response.js';
import { decodeMetadataResponse, encodeMetadataResponse, type MetadataResponse } from '../../packages/protocol/src/messages/metadata-response.js';
import { measure, row } from './measure.js';

/** Flexible versions use request header v2 and response header v1. */
const REQUEST_HEADER_VERSION = 2;
const RESPONSE_HEADER_VERSION = 1;

function opsNote(mbPerSecond: number, frameBytes: number): string {
  return `${((mbPerSecond * 1e6) / frameBytes).toFixed(0)} ops/s, frame ${frameBytes} B`;
}

// --- records: one uncompressed batch of 1,024 records of ~1 KiB, 1 MiB in all
const value = Buffer.alloc(1000, 'x');
const records = Array.from({ length: 1024 }, (_, i) => ({ key: Buffer.from(`key-${i}`), value, timestamp: 1_700_000_000_000 + i }));
const batch = encodeBatchSync({ records });

// --- ProduceRequest v9 decode
const produce: ProduceRequest = {
  transactionalId: null,
  acks: -1,
  timeoutMs: 30_000,
  topicData: [{ name: 'bench-topic', partitionData: [{ index: 0, records: batch }] }],
};
const produceFrame = (() => {
  const w = new Writer();
  encodeRequestHeader(w, REQUEST_HEADER_VERSION, { requestApiKey: 0, requestApiVersion: 9, correlationId: 42, clientId: 'bench' });
  encodeProduceRequest(w, 9, produce);
  // One contiguous Buffer, as the network layer hands a whole frame to the dispatcher.
  return Buffer.from(w.finish());
})();

function decodeProduce(frame: Buffer): Buffer {
  const r = new Reader(frame);
  decodeRequestHeader(r, REQUEST_HEADER_VERSION);
  const m = decodeProduceRequest(r, 9);
  return m.topicData[0]!.partitionData[0]!.records!;
}

{
  const decoded = decodeProduce(produceFrame);
  assert.ok(decoded.equals(batch), 'decoded records equal the batch');
  assert.equal(decoded.buffer, produceFrame.buffer, 'decoded records share the input frame memory (no copy)');
  assert.ok(decoded.byteOffset >= produceFrame.byteOffset && decoded.byteOffset + decoded.length <= produceFrame.byteOffset + produceFrame.length);
}

// --- FetchResponse v12 encode, records by reference
const fetch: FetchResponse = {
  throttleTimeMs: 0,
  errorCode: 0,
  sessionId: 0,
  responses: [{
    topic: 'bench-topic',
    partitions: [{
      partitionIndex: 0, errorCode: 0, highWatermark: 1024, lastStableOffset: 1024, logStartOffset: 0,
      abortedTransactions: null, preferredReadReplica: -1, records: batch,
    }],
  }],
};

function encodeFetch(): Buffer[] {
  const w = new Writer();
  const size = w.reserveInt32();
  encodeResponseHeader(w, RESPONSE_HEADER_VERSION, { correlationId: 42 });
  encodeFetchResponse(w, 12, fetch);
  w.endSizePrefix(size);
  return w.chunks();
}

const fetchFrameBytes = encodeFetch().reduce((n, c) => n + c.length, 0);
{
  const chunks = encodeFetch();
  assert.ok(chunks.includes(batch), 'the records Buffer is one of the chunks itself (appended by reference)');
  assert.ok(fetchFrameBytes - batch.length < 200, 'everything but the records is a small header');
}

// --- Metadata v12 response: 3 brokers, 10 topics x 100 partitions, 3 replicas each
const metadata: MetadataResponse = {
  throttleTimeMs: 0,
  brokers: [1, 2, 3].map((nodeId) => ({ nodeId, host: `broker-${nodeId}.example.internal`, port: 9092, rack: null })),
  clusterId: 'q1Sh-9_ISia_zwGINzRvyQ',
  controllerId: 1,
  topics: Array.from({ length: 10 }, (_, t) => ({
    errorCode: 0,
    name: `orders-${t}`,
    topicId: Buffer.alloc(16, t + 1).toString('base64url'),
    isInternal: false,
    topicAuthorizedOperations: -2147483648,
    partitions: Array.from({ length: 100 }, (_, p) => {
      const replicas = [1 + (p % 3), 1 + ((p + 1) % 3), 1 + ((p + 2) % 3)];
      return { errorCode: 0, partitionIndex: p, leaderId: replicas[0]!, leaderEpoch: 7, replicaNodes: replicas, isrNodes: replicas, offlineReplicas: [] };
    }),
  })),
};

function encodeMetadata(): Buffer {
  const w = new Writer();
  const size = w.reserveInt32();
  encodeResponseHeader(w, RESPONSE_HEADER_VERSION, { correlationId: 42 });
  encodeMetadataResponse(w, 12, metadata);
  w.endSizePrefix(size);
  return w.finish();
}

const metadataFrame = encodeMetadata();
{
  const r = new Reader(metadataFrame, 4 + 5); // size prefix, correlation id, empty tagged fields
  const decoded = decodeMetadataResponse(r, 12);
  assert.equal(r.remaining, 0);
  assert.equal(decoded.topics.reduce((n, t) => n + t.partitions.length, 0), 1000);
}

console.log(`node ${process.version}; produce frame ${produceFrame.length} B, fetch frame ${fetchFrameBytes} B, metadata frame ${metadataFrame.length} B`);
const produceRate = await measure(produceFrame.length, () => decodeProduce(produceFrame));
row('ProduceRequest v9 decode, 1 MiB records', produceRate, opsNote(produceRate, produceFrame.length));
const fetchRate = await measure(fetchFrameBytes, () => encodeFetch());
row('FetchResponse v12 encode, 1 MiB by reference', fetchRate, opsNote(fetchRate, fetchFrameBytes));
const metaEncodeRate = await measure(metadataFrame.length, () => encodeMetadata());
row('Metadata v12 response encode, 1,000 partitions', metaEncodeRate, opsNote(metaEncodeRate, metadataFrame.length));
const metaDecodeRate = await measure(metadataFrame.length, () => decodeMetadataResponse(new Reader(metadataFrame, 9), 12));
row('Metadata v12 response decode, 1,000 partitions', metaDecodeRate, opsNote(metaDecodeRate, metadataFrame.length));
