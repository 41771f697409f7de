/**
 * The scripted session every golden client runs (scripts/capture-goldens.ts) and that the
 * golden tests (test/golden-clients.test.ts) check the captured bytes against. One place
 * for the names and records, so the capture and the assertions cannot drift apart.
 *
 * Each client, through the capturing proxy: create its topic (kcat has no admin commands:
 * its producer's Metadata request makes the broker auto-create it), produce RECORD_COUNT
 * keyed records with one header in one uncompressed request, then consume them in its
 * consumer group from the earliest offset, commit, and leave.
 */

export const GOLDEN_CLIENTS = ['kcat', 'kafka-python', 'confluent-kafka-python', 'kafkajs'] as const;
export type GoldenClient = (typeof GOLDEN_CLIENTS)[number];

/** Versions the fixtures were captured with (informational; the bytes are the contract). */
export const CLIENT_VERSIONS: Readonly<Record<GoldenClient, string>> = {
  kcat: 'kcat 1.7.1, librdkafka 2.0.2 (Debian)',
  'kafka-python': 'kafka-python 2.0.2 (Debian python3-kafka)',
  'confluent-kafka-python': 'confluent-kafka-python 1.7.0, librdkafka 2.0.2 (Debian)',
  kafkajs: 'KafkaJS 2.2.4 (npm)',
};

export const RECORD_COUNT = 3;
export const HEADER_KEY = 'trace';
export const HEADER_VALUE = 'tributary-golden';

export function goldenKey(i: number): string {
  return `key-${i}`;
}

export function goldenValue(i: number): string {
  return `value-${i}`;
}

/** Names per client: distinct, so a fixture can only have come from its own session. */
export function sessionOf(client: GoldenClient): { clientId: string; topic: string; groupId: string } {
  return { clientId: `golden-${client}`, topic: `golden-${client}`, groupId: `golden-${client}-group` };
}
