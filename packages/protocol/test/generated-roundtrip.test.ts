/**
 * Every generated codec, at every version: seeded random instances built from the spec
 * metadata are encoded, decoded and compared (after filling fields absent from that version
 * with their defaults), and re-encoding the decoded value gives the same bytes. Also checks
 * that the registry covers every request spec the generator saw, and Kafka's header rules.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Reader } from '../src/codec/reader.js';
import { Writer } from '../src/codec/writer.js';
import * as internal from '../src/internal/index.js';
import * as messages from '../src/messages/index.js';
import { messageSchemas, type MessageSchema } from '../src/messages/schemas.js';
import { normalize, randomStruct, seededRng, versionsOf } from './generated-random.js';

type Decode = (r: Reader, v: number) => unknown;
type Encode = (w: Writer, v: number, m: unknown) => void;
const namespaces = { ...messages, ...internal } as unknown as Record<string, unknown>;

export function codecsOf(m: MessageSchema): { decode: Decode; encode: Encode } {
  const decode = namespaces[`decode${m.name}`] as Decode | undefined;
  const encode = namespaces[`encode${m.name}`] as Encode | undefined;
  assert.ok(decode && encode, `no codec exported for ${m.name}`);
  return { decode, encode };
}

const INSTANCES_PER_VERSION = 6;

test('every message round-trips at every version', () => {
  const rng = seededRng(0x7121b);
  let cases = 0;
  for (const m of messageSchemas) {
    const { decode, encode } = codecsOf(m);
    for (const v of versionsOf(m)) {
      for (let i = 0; i < INSTANCES_PER_VERSION; i++) {
        const value = randomStruct(m.fields, v, rng, 0, m.flexibleVersions, { large: true });
        const w = new Writer(i === 0 ? 1 : 256);
        encode(w, v, value);
        const bytes = w.finish();
        assert.equal(bytes.length, w.length);
        assert.deepEqual(Buffer.concat(w.chunks()), bytes);
        const r = new Reader(bytes);
        let decoded: unknown;
        try {
          decoded = decode(r, v);
        } catch (e) {
          assert.fail(`${m.name} v${v}: decoding its own encoding failed: ${String(e)}`);
        }
        assert.equal(r.pos, bytes.length, `${m.name} v${v}: decoder left bytes unread`);
        assert.deepStrictEqual(decoded, normalize(m.fields, v, value, m.flexibleVersions), `${m.name} v${v}`);
        const w2 = new Writer();
        encode(w2, v, decoded);
        assert.deepEqual(w2.finish(), bytes, `${m.name} v${v}: re-encoding differs`);
        cases++;
      }
    }
  }
  assert.ok(cases > 1000, `only ${cases} cases`);
});

test('the registry covers every request and response spec at every version', () => {
  const requests = messageSchemas.filter((m) => m.type === 'request');
  assert.equal(messages.apiSpecs.length, requests.length);
  for (const req of requests) {
    const spec = messages.apiSpecByKey(req.apiKey!);
    assert.ok(spec, `no registry entry for ${req.name}`);
    assert.equal(spec.name + 'Request', req.name);
    assert.equal(spec.minVersion, req.validVersions[0]);
    assert.equal(spec.maxVersion, req.validVersions[1]);
    assert.equal(spec.firstFlexibleVersion, req.flexibleVersions === null ? Infinity : req.flexibleVersions[0]);
    assert.equal((messages.ApiKey as Record<string, number>)[spec.name], spec.apiKey);
    const resp = messageSchemas.find((m) => m.type === 'response' && m.apiKey === req.apiKey);
    assert.ok(resp);
    for (const v of versionsOf(req)) {
      const rng = seededRng(v + 31 * spec.apiKey);
      const sides: [MessageSchema, Encode, Decode][] = [
        [req, (w, v2, m) => spec.encodeRequest(w, v2, m), (r, v2) => spec.decodeRequest(r, v2)],
        [resp, (w, v2, m) => spec.encodeResponse(w, v2, m), (r, v2) => spec.decodeResponse(r, v2)],
      ];
      for (const [schema, enc, dec] of sides) {
        const value = randomStruct(schema.fields, v, rng, 0, schema.flexibleVersions, { large: false });
        const w = new Writer();
        enc(w, v, value);
        const r = new Reader(w.finish());
        assert.deepStrictEqual(dec(r, v), normalize(schema.fields, v, value, schema.flexibleVersions));
      }
    }
  }
  assert.equal(messages.ApiKey.Produce, 0);
  assert.equal(messages.ApiKey.Fetch, 1);
  assert.equal(messages.ApiKey.ApiVersions, 18);
  assert.equal(messages.apiSpecByKey(-1), undefined);
  assert.equal(messages.apiSpecByKey(1000), undefined);
});

test('header versions follow Kafka (ApiMessageType)', () => {
  const { requestHeaderVersion, responseHeaderVersion, ApiKey } = messages;
  assert.equal(requestHeaderVersion(ApiKey.Produce, 8), 1);
  assert.equal(requestHeaderVersion(ApiKey.Produce, 9), 2);
  assert.equal(responseHeaderVersion(ApiKey.Produce, 8), 0);
  assert.equal(responseHeaderVersion(ApiKey.Produce, 9), 1);
  assert.equal(requestHeaderVersion(ApiKey.ControlledShutdown, 0), 0);
  assert.equal(requestHeaderVersion(ApiKey.ControlledShutdown, 1), 1);
  assert.equal(requestHeaderVersion(ApiKey.ControlledShutdown, 3), 2);
  assert.equal(requestHeaderVersion(ApiKey.ApiVersions, 3), 2);
  assert.equal(requestHeaderVersion(ApiKey.ApiVersions, 2), 1);
  for (let v = 0; v <= 5; v++) assert.equal(responseHeaderVersion(ApiKey.ApiVersions, v), 0);
  assert.equal(requestHeaderVersion(ApiKey.Fetch, 12), 2);
  assert.equal(responseHeaderVersion(ApiKey.SaslHandshake, 1), 0);
  assert.equal(requestHeaderVersion(9999, 5), 1);
});

test('request header v1 keeps the int16 client id even where v2 is flexible', () => {
  const w = new Writer();
  messages.encodeRequestHeader(w, 2, { requestApiKey: 18, requestApiVersion: 3, correlationId: 7, clientId: 'kcat' });
  assert.deepEqual(w.finish(), Buffer.from([0, 18, 0, 3, 0, 0, 0, 7, 0, 4, 0x6b, 0x63, 0x61, 0x74, 0]));
});

test('known byte layouts: Produce v3 request, ApiVersions v3 response with tagged fields', () => {
  const records = Buffer.alloc(2000, 7);
  const w = new Writer();
  messages.encodeProduceRequest(w, 3, {
    transactionalId: null, acks: -1, timeoutMs: 30000,
    topicData: [{ name: 't', partitionData: [{ index: 0, records }] }],
  });
  const chunks = w.chunks();
  assert.ok(chunks.includes(records), 'large records are appended by reference');
  const bytes = w.finish();
  const head = Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0x75, 0x30, 0, 0, 0, 1, 0, 1, 0x74, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x07, 0xd0]);
  assert.deepEqual(bytes.subarray(0, head.length), head);
  const decoded = messages.decodeProduceRequest(new Reader(bytes), 3);
  const rec = decoded.topicData[0]!.partitionData[0]!.records!;
  assert.equal(rec.buffer, bytes.buffer, 'records decode as a slice of the input');

  // ApiVersions v3: tagged FinalizedFeaturesEpoch (tag 1) is written only when not -1.
  const w2 = new Writer();
  messages.encodeApiVersionsResponse(w2, 3, { errorCode: 0, apiKeys: [], throttleTimeMs: 0, finalizedFeaturesEpoch: 5 });
  assert.deepEqual(w2.finish(), Buffer.from([0, 0, 1, 0, 0, 0, 0, 1, 1, 8, 0, 0, 0, 0, 0, 0, 0, 5]));
  const w3 = new Writer();
  messages.encodeApiVersionsResponse(w3, 3, { errorCode: 0, apiKeys: [], throttleTimeMs: 0 });
  assert.deepEqual(w3.finish(), Buffer.from([0, 0, 1, 0, 0, 0, 0, 0]));
});

test('__consumer_offsets records use Kafka\'s versions and layout', () => {
  const key = internal.encodeOffsetCommitRecordKey({ group: 'g', topic: 't', partition: 3 });
  assert.deepEqual(key, Buffer.from([0, 1, 0, 1, 0x67, 0, 1, 0x74, 0, 0, 0, 3]));
  const value = internal.encodeOffsetCommitRecordValue({ offset: 42, leaderEpoch: 5, metadata: '', commitTimestamp: 1000 });
  assert.equal(value.readInt16BE(0), 3);
  const rec = internal.decodeGroupCoordinatorRecord(key, value);
  assert.equal(rec.recordType, 1);
  assert.deepStrictEqual(rec.key, { group: 'g', topic: 't', partition: 3 });
  assert.deepStrictEqual(rec.value, { offset: 42, leaderEpoch: 5, metadata: '', commitTimestamp: 1000, expireTimestamp: -1 });
  const withExpire = internal.encodeOffsetCommitRecordValue({ offset: 1, metadata: 'm', commitTimestamp: 2, expireTimestamp: 3 });
  assert.equal(withExpire.readInt16BE(0), 1);
  const tomb = internal.decodeGroupCoordinatorRecord(internal.encodeGroupMetadataRecordKey({ group: 'g' }), null);
  assert.equal(tomb.recordType, 2);
  assert.equal(tomb.value, null);
  const gm = internal.encodeGroupMetadataRecordValue({ protocolType: 'consumer', generation: 1, protocol: 'range', leader: null, members: [] });
  assert.equal(gm.readInt16BE(0), 3);
  const txn = internal.decodeTransactionLogRecord(internal.encodeTransactionLogRecordKey({ transactionalId: 'x' }), null);
  assert.deepStrictEqual(txn.key, { transactionalId: 'x' });
  assert.throws(() => internal.decodeGroupCoordinatorRecord(Buffer.from([0, 99]), null), { code: 'TRIB_ERR_PROTOCOL_DECODE' });
});
