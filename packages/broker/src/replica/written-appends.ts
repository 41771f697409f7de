/**
 * Which pending Produce work no longer looks at the request's bytes, so that the request's
 * frame can go back to the frame pool (network/frame-pool.ts) before the answer is sent.
 *
 * An acks=all append that took the synchronous path (nothing queued ahead, no
 * recompression) has validated its batch, patched it and written it to the segment with
 * writeSync before appendRecordsToLeader returns; what it returns then is a promise that
 * waits only for the high watermark (and, with flush.durable.acks, an fdatasync), holding
 * offsets and error codes, never the records. The partition says so by setting `written` on
 * the AppendRequest (replica/partition.ts); when every append of a request is written, the
 * Produce handler releases the request's bytes here. Without this, every acks=all request's
 * frame was left to the garbage collector: a fresh ~100 KB allocation per request on the
 * leader, with the GC work and page faults the frame pool exists to avoid (a replicated
 * produce path paid them at every request, the acks=1 path never).
 *
 * The per-append mark used to be a WeakSet of the returned promises: an insert per
 * partition append, ~1% of an RF=3 leader's CPU in perf plus the garbage collector's
 * ephemeron work, where a field on the request object the handler already holds costs
 * nothing. The per-request release stays a WeakSet (one insert per request), so an unmarked
 * context is simply "still reading".
 */
import type { RequestContext } from '../handlers/registry.js';

const releasedRequests = new WeakSet<RequestContext>();

/** The handler of `ctx` has finished with its request's bytes, though its answer is still pending. */
export function releaseRequestBytes(ctx: RequestContext): void {
  releasedRequests.add(ctx);
}

/** Whether the request of `ctx` may give its frame back while its answer is pending. */
export function requestBytesReleased(ctx: RequestContext): boolean {
  return releasedRequests.has(ctx);
}
