/**
 * Golden bytes from real clients: kcat and confluent-kafka-python (librdkafka 2.0.2),
 * kafka-python 2.0.2 and KafkaJS 2.2.4, captured by scripts/capture-goldens.ts while each
 * ran the session in test/golden/session.ts against our broker (fixture layout in
 * test/golden/fixtures.ts).
 *
 * For every captured request and response: the generated codecs decode header and body
 * consuming every byte, and encoding the decoded message again gives the same bytes
 * (for these fixtures Kafka's encoding is canonical: no captured client writes anything
 * the codecs would normalise). Then the decoded values must be the session's: client id,
 * API version, topic, partition, acks, group id, protocol names, the produced records
 * (keys, values, headers) and the same records coming back in the Fetch response.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ErrorCode, Reader, decodeConsumerProtocolAssignment, decodeConsumerProtocolSubscription, decodeRecordsSync, forEachBatch,
  type ApiVersionsRequest, type ApiVersionsResponse, type CreateTopicsRequest, type CreateTopicsResponse,
  type DecodedRecord, type FetchRequest, type FetchResponse, type FindCoordinatorRequest, type FindCoordinatorResponse,
  type HeartbeatRequest, type HeartbeatResponse, type JoinGroupRequest, type JoinGroupResponse, type LeaveGroupRequest,
  type LeaveGroupResponse, type ListOffsetsRequest, type ListOffsetsResponse, type MetadataRequest, type MetadataResponse,
  type OffsetCommitRequest, type OffsetCommitResponse, type OffsetFetchRequest, type OffsetFetchResponse,
  type ProduceRequest, type ProduceResponse, type SyncGroupRequest, type SyncGroupResponse,
} from '../src/index.js';
import { loadGoldens, reencodeRequest, reencodeResponse, type GoldenExchange } from './golden/fixtures.js';
import {
  GOLDEN_CLIENTS, HEADER_KEY, HEADER_VALUE, RECORD_COUNT, goldenKey, goldenValue, sessionOf, type GoldenClient,
} from './golden/session.js';

/** APIs every client's session uses; a re-capture that loses one of them is a regression. */
const REQUIRED_APIS = [
  'ApiVersions', 'Metadata', 'Produce', 'Fetch', 'ListOffsets', 'FindCoordinator',
  'JoinGroup', 'SyncGroup', 'OffsetFetch', 'OffsetCommit', 'LeaveGroup',
];

/** What each client announces; librdkafka sends its name from ApiVersions v3 (KIP-511). */
const EXPECTED: Record<GoldenClient, { software: [string, string] | null; assignors: string[]; createsTopic: boolean }> = {
  kcat: { software: ['librdkafka', '2.0.2'], assignors: ['range', 'roundrobin'], createsTopic: false },
  'kafka-python': { software: null, assignors: ['range', 'roundrobin'], createsTopic: true },
  'confluent-kafka-python': { software: ['confluent-kafka-python', '1.7.0-rdkafka-2.0.2'], assignors: ['range', 'roundrobin'], createsTopic: true },
  kafkajs: { software: null, assignors: ['RoundRobinAssigner'], createsTopic: true },
};

const NODE_ID = 1;

function hex(b: Buffer): string {
  return b.toString('hex').replace(/(.{64})/g, '$1\n');
}

/** Every record in a records field, batch by batch (uncompressed or compressed). */
function recordsIn(data: Buffer | null): DecodedRecord[] {
  assert.ok(data !== null, 'records field is null');
  const out: DecodedRecord[] = [];
  const scan = forEachBatch(data, (offset) => out.push(...decodeRecordsSync(data, offset)));
  assert.equal(scan.partialBytes, 0, 'records end in a partial batch');
  return out;
}

function assertSessionRecords(records: DecodedRecord[], where: string): void {
  assert.equal(records.length, RECORD_COUNT, `${where}: record count`);
  records.forEach((rec, i) => {
    assert.equal(rec.key?.toString(), goldenKey(i), `${where}: key of record ${i}`);
    assert.equal(rec.value?.toString(), goldenValue(i), `${where}: value of record ${i}`);
    assert.deepEqual(rec.headers.map((h) => [h.key, h.value?.toString()]), [[HEADER_KEY, HEADER_VALUE]], `${where}: headers of record ${i}`);
  });
}

function decodeSubscription(metadata: Buffer) {
  const r = new Reader(metadata);
  const version = metadata.readInt16BE(0);
  r.int16();
  const subscription = decodeConsumerProtocolSubscription(r, version);
  assert.equal(r.remaining, 0, 'subscription metadata has trailing bytes');
  return subscription;
}

function decodeAssignment(bytes: Buffer) {
  const r = new Reader(bytes);
  const version = bytes.readInt16BE(0);
  r.int16();
  const assignment = decodeConsumerProtocolAssignment(r, version);
  assert.equal(r.remaining, 0, 'assignment has trailing bytes');
  return assignment;
}

/** Checks of one API's request and response against the session; keyed by API name. */
type Check = (req: any, res: any, client: GoldenClient, ex: GoldenExchange) => void;

const CHECKS: Record<string, Check> = {
  ApiVersions(req: ApiVersionsRequest, res: ApiVersionsResponse, client, ex) {
    const software = EXPECTED[client].software;
    if (ex.version >= 3) {
      assert.ok(software !== null, `${client} was not expected to send ApiVersions v3`);
      assert.deepEqual([req.clientSoftwareName, req.clientSoftwareVersion], software);
    }
    assert.equal(res.errorCode, 0);
    const produce = res.apiKeys.find((k) => k.apiKey === 0);
    assert.ok(produce !== undefined && produce.maxVersion >= 7, 'ApiVersions response advertises Produce v7+');
  },
  Metadata(req: MetadataRequest, res: MetadataResponse, client) {
    const { topic } = sessionOf(client);
    for (const t of req.topics ?? []) assert.equal(t.name, topic);
    assert.equal(res.brokers.length, 1);
    assert.equal(res.brokers[0]!.nodeId, NODE_ID);
    assert.equal(res.brokers[0]!.host, '127.0.0.1');
    const ours = res.topics.find((t) => t.name === topic);
    if (ours !== undefined && ours.errorCode === 0) {
      assert.deepEqual(ours.partitions.map((p) => [p.partitionIndex, p.leaderId]), [[0, NODE_ID]]);
    }
  },
  CreateTopics(req: CreateTopicsRequest, res: CreateTopicsResponse, client) {
    const { topic } = sessionOf(client);
    assert.ok(EXPECTED[client].createsTopic, `${client} has no admin client`);
    assert.deepEqual(req.topics.map((t) => [t.name, t.numPartitions]), [[topic, 1]]);
    assert.deepEqual(res.topics.map((t) => [t.name, t.errorCode]), [[topic, 0]]);
  },
  Produce(req: ProduceRequest, res: ProduceResponse, client) {
    const { topic } = sessionOf(client);
    assert.equal(req.acks, -1);
    assert.equal(req.transactionalId, null);
    assert.deepEqual(req.topicData.map((t) => [t.name, t.partitionData.map((p) => p.index)]), [[topic, [0]]]);
    assertSessionRecords(recordsIn(req.topicData[0]!.partitionData[0]!.records), `${client} Produce`);
    const p = res.responses[0]!.partitionResponses[0]!;
    assert.deepEqual([res.responses[0]!.name, p.index, p.errorCode, p.baseOffset], [topic, 0, 0, 0]);
  },
  Fetch(req: FetchRequest, res: FetchResponse, client) {
    const { topic } = sessionOf(client);
    assert.equal(req.replicaId ?? -1, -1);
    assert.deepEqual(req.topics.map((t) => [t.topic, t.partitions.map((p) => [p.partition, p.fetchOffset])]), [[topic, [[0, 0]]]]);
    const p = res.responses[0]!.partitions[0]!;
    assert.deepEqual([res.responses[0]!.topic, p.partitionIndex, p.errorCode, p.highWatermark], [topic, 0, 0, RECORD_COUNT]);
    const records = recordsIn(p.records);
    assertSessionRecords(records, `${client} Fetch response`);
    assert.deepEqual(records.map((r) => r.offset), [0, 1, 2]);
  },
  ListOffsets(req: ListOffsetsRequest, res: ListOffsetsResponse, client) {
    const { topic } = sessionOf(client);
    assert.deepEqual(req.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.timestamp])]), [[topic, [[0, -2]]]]);
    const p = res.topics[0]!.partitions[0]!;
    assert.deepEqual([p.errorCode, p.offset], [0, 0]);
  },
  FindCoordinator(req: FindCoordinatorRequest, res: FindCoordinatorResponse, client) {
    assert.equal(req.key, sessionOf(client).groupId);
    assert.equal(req.keyType ?? 0, 0);
    assert.deepEqual([res.errorCode, res.nodeId], [0, NODE_ID]);
  },
  JoinGroup(req: JoinGroupRequest, res: JoinGroupResponse, client, ex) {
    const { groupId, topic } = sessionOf(client);
    assert.equal(req.groupId, groupId);
    assert.equal(req.memberId, '');
    assert.equal(req.protocolType, 'consumer');
    assert.deepEqual(req.protocols.map((p) => p.name), EXPECTED[client].assignors);
    for (const p of req.protocols) assert.deepEqual(decodeSubscription(p.metadata).topics, [topic]);
    assert.ok(res.memberId.startsWith(sessionOf(client).clientId), `member id ${res.memberId} starts with the client id`);
    if (ex.version >= 4) {
      // KIP-394: the first join of an unknown member (v4+) is answered MEMBER_ID_REQUIRED
      // with the member id to join again with; the captured frame is that first join.
      assert.deepEqual([res.errorCode, res.generationId, res.members.length], [ErrorCode.MEMBER_ID_REQUIRED, -1, 0]);
    } else {
      assert.deepEqual([res.errorCode, res.generationId, res.leader], [0, 1, res.memberId]);
      assert.equal(res.protocolName, EXPECTED[client].assignors[0]);
      assert.deepEqual(res.members.map((m) => decodeSubscription(m.metadata).topics), [[topic]]);
    }
  },
  SyncGroup(req: SyncGroupRequest, res: SyncGroupResponse, client) {
    const { groupId, topic } = sessionOf(client);
    assert.equal(req.groupId, groupId);
    assert.equal(req.generationId, 1);
    assert.deepEqual(req.assignments.map((a) => a.memberId), [req.memberId]);
    const assigned = (bytes: Buffer) => decodeAssignment(bytes).assignedPartitions.map((t) => [t.topic, t.partitions]);
    assert.deepEqual(assigned(req.assignments[0]!.assignment), [[topic, [0]]]);
    assert.equal(res.errorCode, 0);
    assert.deepEqual(assigned(res.assignment), [[topic, [0]]]);
  },
  Heartbeat(req: HeartbeatRequest, res: HeartbeatResponse, client) {
    assert.equal(req.groupId, sessionOf(client).groupId);
    assert.equal(res.errorCode, 0);
  },
  OffsetFetch(req: OffsetFetchRequest, res: OffsetFetchResponse, client) {
    const { groupId, topic } = sessionOf(client);
    assert.equal(req.groupId, groupId);
    assert.deepEqual(req.topics?.map((t) => [t.name, t.partitionIndexes]), [[topic, [0]]]);
    const p = res.topics![0]!.partitions[0]!;
    assert.deepEqual([p.partitionIndex, p.committedOffset, p.errorCode], [0, -1, 0]);
  },
  OffsetCommit(req: OffsetCommitRequest, res: OffsetCommitResponse, client) {
    const { groupId, topic } = sessionOf(client);
    assert.equal(req.groupId, groupId);
    assert.equal(req.generationIdOrMemberEpoch, 1);
    assert.deepEqual(req.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.committedOffset])]), [[topic, [[0, RECORD_COUNT]]]]);
    assert.deepEqual(res.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.errorCode])]), [[topic, [[0, 0]]]]);
  },
  LeaveGroup(req: LeaveGroupRequest, res: LeaveGroupResponse, client) {
    assert.equal(req.groupId, sessionOf(client).groupId);
    // v0-2 name one member; v3+ (KIP-345) a list of them.
    const members = req.members !== undefined && req.members.length > 0 ? req.members.map((m) => m.memberId) : [req.memberId];
    assert.equal(members.length, 1);
    assert.ok(members[0]!.startsWith(sessionOf(client).clientId));
    assert.equal(res.errorCode, 0);
  },
};

for (const client of GOLDEN_CLIENTS) {
  test(`${client}: every captured request and response decodes, consuming every byte, and re-encodes to the same bytes`, () => {
    const goldens = loadGoldens(client);
    assert.ok(goldens.length > 0, `no fixtures for ${client}`);
    for (const ex of goldens) {
      assert.equal(ex.request.remaining, 0, `${client}/${ex.name}: ${ex.request.remaining} bytes left after the request body`);
      assert.equal(ex.response.remaining, 0, `${client}/${ex.name}: ${ex.response.remaining} bytes left after the response body`);
      const request = reencodeRequest(ex);
      assert.ok(request.equals(ex.request.frame.subarray(4)), `${client}/${ex.name}: re-encoded request differs\nwant ${hex(ex.request.frame.subarray(4))}\ngot  ${hex(request)}`);
      const response = reencodeResponse(ex);
      assert.ok(response.equals(ex.response.frame.subarray(4)), `${client}/${ex.name}: re-encoded response differs`);
      assert.equal(ex.response.header.correlationId, ex.request.header.correlationId, `${client}/${ex.name}: correlation id`);
    }
  });

  test(`${client}: the captured session carries the scripted client id, topic, group and records`, () => {
    const goldens = loadGoldens(client);
    const apis = new Set(goldens.map((ex) => ex.spec.name));
    for (const api of REQUIRED_APIS) assert.ok(apis.has(api), `${client} fixtures lack ${api} (have ${[...apis].join(', ')})`);
    for (const ex of goldens) {
      assert.equal(ex.request.header.clientId, sessionOf(client).clientId, `${client}/${ex.name}: client id`);
      assert.equal(ex.request.header.requestApiVersion, ex.version);
      const check = CHECKS[ex.spec.name];
      assert.ok(check !== undefined, `${client}/${ex.name}: no check for ${ex.spec.name}; add one`);
      try {
        check(ex.request.body, ex.response.body, client, ex);
      } catch (err) {
        (err as Error).message = `${client}/${ex.name}: ${(err as Error).message}`;
        throw err;
      }
    }
  });
}

test('the fixtures cover, per API, the versions these clients really send', () => {
  const versions = new Map<string, Set<string>>();
  for (const client of GOLDEN_CLIENTS) {
    for (const ex of loadGoldens(client)) {
      const set = versions.get(ex.spec.name) ?? new Set<string>();
      set.add(`v${ex.version}`);
      versions.set(ex.spec.name, set);
    }
  }
  // Old and new encodings of the same API: non-flexible and (for ApiVersions) flexible.
  assert.ok(versions.get('ApiVersions')!.has('v0') && versions.get('ApiVersions')!.has('v3'));
  assert.ok(versions.get('Metadata')!.has('v0') && versions.get('Metadata')!.has('v6'));
  assert.ok(versions.get('Fetch')!.has('v4') && versions.get('Fetch')!.has('v11'));
  assert.ok(versions.get('JoinGroup')!.has('v2') && versions.get('JoinGroup')!.has('v5'));
});
