/**
 * `<data dir>/meta.properties`: the identity of a broker's data directory, in Kafka's
 * format, so Kafka's tools read it and a directory is never served by the wrong node.
 *
 *   #<comment>
 *   version=1                  1 = KRaft layout (node.id); 0 = ZooKeeper layout (broker.id)
 *   cluster.id=<22-char uuid>  Kafka Uuid text (URL-safe base64, no padding)
 *   node.id=<int>              (version 0: broker.id=<int>)
 *   directory.id=<uuid>        version 1 only; identifies this directory (KIP-858)
 *
 * Unlike Kafka there is no `kafka-storage format` step: the first start creates the file
 * with a fresh cluster id (or the one given). Later starts read it and refuse to start
 * when the configured node id or cluster id differs, since serving another node's
 * partitions would silently mix two replicas' histories.
 *
 * The file is written to a temporary name, fsynced and renamed, so a crash leaves either
 * no file or a complete one.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from '@tributary/storage';
import { formatProperties, parseProperties } from './properties-file.js';
import { isKafkaUuid, randomKafkaUuid } from '../metadata/kafka-uuid.js';

export const META_PROPERTIES_FILE = 'meta.properties';

export interface MetaProperties {
  readonly version: 0 | 1;
  readonly clusterId: string;
  readonly nodeId: number;
  readonly directoryId?: string | undefined;
}

export type IdentityErrorCode = 'TRIB_ERR_META_PROPERTIES_INVALID' | 'TRIB_ERR_NODE_ID_MISMATCH' | 'TRIB_ERR_CLUSTER_ID_MISMATCH';

export class IdentityError extends Error {
  readonly code: IdentityErrorCode;
  constructor(code: IdentityErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IdentityError';
    this.code = code;
  }
}

/** Reads `<dir>/meta.properties`; null when it does not exist. */
export function readMetaProperties(dir: string): MetaProperties | null {
  const path = join(dir, META_PROPERTIES_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const props = parseProperties(text);
  const invalid = (what: string): IdentityError =>
    new IdentityError('TRIB_ERR_META_PROPERTIES_INVALID', `Invalid ${path}: ${what}`);
  const version = props.get('version');
  if (version !== '0' && version !== '1') throw invalid(`version is ${JSON.stringify(version ?? null)}, expected 0 or 1`);
  const clusterId = props.get('cluster.id');
  if (clusterId === undefined || clusterId === '') throw invalid('cluster.id is missing');
  const idKey = version === '1' ? 'node.id' : 'broker.id';
  const idText = props.get(idKey);
  if (idText === undefined || !/^\d+$/.test(idText) || Number(idText) > 2147483647) {
    throw invalid(`${idKey} is ${JSON.stringify(idText ?? null)}, expected a non-negative int`);
  }
  const directoryId = props.get('directory.id');
  if (directoryId !== undefined && !isKafkaUuid(directoryId)) throw invalid(`directory.id ${JSON.stringify(directoryId)} is not a Kafka Uuid`);
  return { version: version === '1' ? 1 : 0, clusterId, nodeId: Number(idText), directoryId };
}

export function writeMetaProperties(dir: string, meta: MetaProperties): void {
  mkdirSync(dir, { recursive: true });
  const entries: [string, string][] = [['version', String(meta.version)], ['cluster.id', meta.clusterId]];
  entries.push([meta.version === 1 ? 'node.id' : 'broker.id', String(meta.nodeId)]);
  if (meta.directoryId !== undefined) entries.push(['directory.id', meta.directoryId]);
  const text = formatProperties(entries, new Date().toString());
  writeFileDurably(join(dir, META_PROPERTIES_FILE), Buffer.from(text, 'latin1'));
}

export interface EnsureIdentityOptions {
  /** Configured node id; -1 when not configured. */
  readonly nodeId: number;
  /** Node id to use on first start when none is configured. */
  readonly defaultNodeId?: number;
  /** Cluster id to use on first start (else a new random one); checked on later starts. */
  readonly clusterId?: string | undefined;
}

/**
 * Creates meta.properties on first start, otherwise reads and checks it. Returns the
 * identity and whether it was just created.
 */
export function ensureMetaProperties(dir: string, options: EnsureIdentityOptions): { meta: MetaProperties; created: boolean } {
  const existing = readMetaProperties(dir);
  const path = join(dir, META_PROPERTIES_FILE);
  if (existing) {
    if (options.nodeId !== -1 && options.nodeId !== existing.nodeId) {
      throw new IdentityError('TRIB_ERR_NODE_ID_MISMATCH',
        `Configured node.id ${options.nodeId} does not match node id ${existing.nodeId} stored in ${path}. ` +
        'If you moved this data directory, configure the node id it was created with; to start a new node, use an empty data directory.');
    }
    if (options.clusterId !== undefined && options.clusterId !== existing.clusterId) {
      throw new IdentityError('TRIB_ERR_CLUSTER_ID_MISMATCH',
        `Cluster id ${options.clusterId} does not match cluster id ${existing.clusterId} stored in ${path}: this directory belongs to another cluster.`);
    }
    return { meta: existing, created: false };
  }
  const nodeId = options.nodeId !== -1 ? options.nodeId : (options.defaultNodeId ?? 1);
  const meta: MetaProperties = { version: 1, clusterId: options.clusterId ?? randomKafkaUuid(), nodeId, directoryId: randomKafkaUuid() };
  writeMetaProperties(dir, meta);
  return { meta, created: true };
}
