/**
 * One member of a classic group: who it is, what it supports, and what it is waiting for.
 *
 * A member is "awaiting join" while its JoinGroup is parked (the group is rebalancing) and
 * "awaiting sync" while its SyncGroup waits for the leader's assignment. Both are promises'
 * resolve functions: answering a request is calling it exactly once.
 */
import { AssertionError } from '@tributary/protocol';

export interface GroupProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinGroupResultMember {
  memberId: string;
  groupInstanceId: string | null;
  metadata: Buffer;
}

export interface JoinGroupResult {
  errorCode: number;
  memberId: string;
  generationId: number;
  /** null until a protocol is chosen; handlers turn null into "" for versions without nullable strings. */
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  skipAssignment: boolean;
  members: JoinGroupResultMember[];
}

export interface SyncGroupResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export const EMPTY_BYTES: Buffer = Buffer.alloc(0);

export function joinError(memberId: string, errorCode: number): JoinGroupResult {
  return { errorCode, memberId, generationId: -1, protocolType: null, protocolName: null, leader: '', skipAssignment: false, members: [] };
}

export function syncError(errorCode: number): SyncGroupResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY_BYTES };
}

export class ClassicMember {
  awaitingJoin: ((result: JoinGroupResult) => void) | null = null;
  awaitingSync: ((result: SyncGroupResult) => void) | null = null;
  /** Joined but has not yet completed a join: it has no member id to heartbeat with. */
  isNew = false;
  /** Cancels the pending session (heartbeat) expiration, if any. */
  cancelExpiration: (() => void) | null = null;

  constructor(
    public memberId: string,
    readonly groupInstanceId: string | null,
    readonly clientId: string,
    readonly clientHost: string,
    public rebalanceTimeoutMs: number,
    public sessionTimeoutMs: number,
    readonly protocolType: string,
    public protocols: GroupProtocol[],
    public assignment: Buffer = EMPTY_BYTES,
  ) {}

  get isStatic(): boolean {
    return this.groupInstanceId !== null;
  }

  get isAwaitingJoin(): boolean {
    return this.awaitingJoin !== null;
  }

  get isAwaitingSync(): boolean {
    return this.awaitingSync !== null;
  }

  /** The metadata this member sent for `protocol`; the group only selects protocols every member supports. */
  metadata(protocol: string): Buffer {
    const p = this.protocols.find((x) => x.name === protocol);
    if (p === undefined) throw new AssertionError(`member ${this.memberId} does not support protocol ${protocol}`);
    return p.metadata;
  }

  /** Same protocols, same order, same metadata bytes: a JoinGroup that changes nothing. */
  matches(protocols: GroupProtocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    for (let i = 0; i < protocols.length; i++) {
      const a = protocols[i]!;
      const b = this.protocols[i]!;
      if (a.name !== b.name || !a.metadata.equals(b.metadata)) return false;
    }
    return true;
  }

  /** The member's most preferred protocol among `candidates` (its list is in preference order). */
  vote(candidates: ReadonlySet<string>): string {
    const p = this.protocols.find((x) => candidates.has(x.name));
    if (p === undefined) throw new AssertionError(`member ${this.memberId} supports none of the candidate protocols`);
    return p.name;
  }
}
