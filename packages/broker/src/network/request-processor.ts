/**
 * The seam between the byte-level network layer and request handling: the socket server
 * hands each complete frame to a RequestProcessor and writes back whatever it answers,
 * in request order. The network layer knows nothing of api keys or codecs, which keeps it
 * testable with hand-built frames and lets the dispatcher be tested without sockets.
 */
import type { ConnectionResponseMemory } from './memory-budget.js';
import type { SaslServerAuthenticator } from './sasl/sasl-authenticator.js';

/** What the network layer knows about a connection; handlers see it in their context. */
export interface ConnectionInfo {
  /** Unique per broker process, for logs: `<listener>-<n>`. */
  readonly id: string;
  readonly listenerName: string;
  readonly securityProtocol: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** KIP-511: recorded from ApiVersions v3+ for logs and metrics. */
  clientSoftwareName: string | undefined;
  clientSoftwareVersion: string | undefined;
  /**
   * Who the client is (Kafka's KafkaPrincipal as text): `User:ANONYMOUS` on PLAINTEXT and
   * on SSL without a client certificate, the mapped certificate subject on SSL with one,
   * the SASL identity once SASL authentication completes. Absent means `User:ANONYMOUS`
   * (connections built by tests).
   */
  principal?: string;
  /** The SASL exchange of a SASL_PLAINTEXT / SASL_SSL connection (sees frames first). */
  readonly authenticator?: SaslServerAuthenticator;
  /** This connection's share of the response budget (memory-budget.ts); absent in tests without sockets. */
  readonly responseMemory?: ConnectionResponseMemory;
}

export type ResponseAction =
  /**
   * Send these bytes (response header + body, without the size prefix); with `closeAfter`,
   * then close the connection for that reason (a failed SASL authentication).
   * `written` runs once, when the write carrying these bytes has completed (`sent` true:
   * they have left for the kernel; false: the socket failed and they never will), or when
   * it is certain they will never be handed to the socket (false: the connection closed
   * first); until then the chunks may still be read by the socket, so it is where memory
   * they live in is released for reuse (a Fetch's holds on recent-appends chunks).
   */
  | { readonly type: 'send'; readonly chunks: readonly Buffer[]; readonly closeAfter?: string; readonly throttleMs?: number; readonly written?: (sent: boolean) => void }
  /**
   * Send nothing (acks=0 Produce); later responses still keep their order.
   * `throttleMs` (on 'send' and 'none'): a client over its quota; the connection takes no
   * further request for that long once this response has been written (KIP-219 muting).
   */
  | { readonly type: 'none'; readonly throttleMs?: number }
  /** Close the connection once the responses before this request have been written. */
  | { readonly type: 'close'; readonly reason: string };

export interface RequestProcessor {
  /**
   * Handles one request frame (without its size prefix). Must not throw or reject: the
   * network layer treats a throw as a bug and closes the connection with it as reason.
   * May answer synchronously (cheap requests) or with a promise (everything else).
   */
  process(frame: Buffer, connection: ConnectionInfo): ResponseAction | Promise<ResponseAction>;
  /**
   * Whether this request may start while earlier requests on its connection are still in
   * flight (see connection.ts, Ordering). Without this method every request may.
   */
  mayPipeline?(frame: Buffer): boolean;
}

export const NO_RESPONSE_ACTION: ResponseAction = Object.freeze({ type: 'none' });
