/**
 * The one registry of request handlers. The dispatcher looks handlers up here by api key,
 * and ApiVersions advertises exactly what is registered here: a version range is written
 * once, on the handler, never listed a second time.
 *
 * A handler serves one API over a version range it really implements (the codec may
 * know more versions than the handler does). It returns the response object for the
 * request's version, NO_RESPONSE when the protocol wants silence (acks=0 Produce), or a
 * CloseConnection when it wants the connection closed (a failed acks=0 Produce).
 * Expected outcomes (unknown topic, not leader, ...) are error codes inside the response;
 * a throw is a bug or an I/O failure, which the dispatcher logs and turns into the
 * handler's `errorResponse(req, UNKNOWN_SERVER_ERROR)` or, without one, a closed
 * connection.
 */
import type { ApiKey, ApiMessages, ApiName } from '@tributary/protocol';
import type { ConnectionInfo } from '../network/request-processor.js';
import type { Logger } from '../logger.js';
import type { BrokerServices } from '../broker.js';

/** Returned by a handler that must not answer (acks=0 Produce). */
export const NO_RESPONSE: unique symbol = Symbol('NO_RESPONSE');
export type NoResponse = typeof NO_RESPONSE;

export interface RequestHeaderInfo {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
}

export interface RequestContext {
  readonly header: RequestHeaderInfo;
  /** Mutable fields (client software name/version) are recorded by ApiVersions. */
  readonly connection: ConnectionInfo;
  /** Everything a handler may use: config, metadata, storage, coordinators. */
  readonly broker: BrokerServices;
  readonly handlers: HandlerRegistry;
  /** Logger with api, version, client id and connection already attached. */
  readonly logger: Logger;
  /** When the request was taken off the socket (Date.now()). */
  readonly receivedAtMs: number;
  /** The authenticated principal, `User:<name>` (`User:ANONYMOUS` without authentication). */
  readonly principal: string;
  /**
   * Runs `callback` once the handler's response has been written to the socket (`sent`
   * true), or once it is certain it never will be (false: the connection closed or the
   * write failed; ResponseAction `written`). Only a response that is sent runs it: after a
   * handler failure or with no response it never runs, so what it releases is leaked to the
   * garbage collector rather than reused early. Absent where requests do not go through the
   * dispatcher (tests).
   */
  onResponseWritten?(callback: (sent: boolean) => void): void;
}

/**
 * Returned by a handler whose protocol answer is a closed connection: a failed acks=0
 * Produce (the only way such a producer learns of the failure, as in Kafka). Responses to
 * earlier requests on the connection are written first.
 */
export class CloseConnection {
  constructor(readonly reason: string) {}
}

export type HandlerResult<Res> = Res | NoResponse | CloseConnection | Promise<Res | NoResponse | CloseConnection>;

/**
 * The handler of API `Name` (Kafka's name, a key of protocol's `ApiKey`). The name fixes
 * the api key and the request and response types from protocol's generated ApiMessages,
 * so a handler that declares `Handler<'Heartbeat'>` with `apiKey: ApiKey.JoinGroup`, or
 * returns another API's response, does not compile.
 */
export interface Handler<Name extends ApiName = ApiName> {
  readonly apiKey: (typeof ApiKey)[Name];
  /** Kafka's name for the API (logs). */
  readonly name: Name;
  readonly minVersion: number;
  readonly maxVersion: number;
  handle(req: ApiMessages[Name]['request'], ctx: RequestContext): HandlerResult<ApiMessages[Name]['response']>;
  /** A response carrying `errorCode` everywhere it can, for the request's version. */
  errorResponse?(req: ApiMessages[Name]['request'], errorCode: number, ctx: RequestContext): ApiMessages[Name]['response'];
}

/** A request of any API, as the dispatcher holds it before the handler's type narrows it. */
export type AnyRequest = ApiMessages[ApiName]['request'];

export interface ApiVersionRange {
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
}

export class HandlerRegistryError extends Error {
  readonly code = 'TRIB_ERR_HANDLER_REGISTRY' as const;
  constructor(message: string) {
    super(message);
    this.name = 'HandlerRegistryError';
  }
}

export class HandlerRegistry {
  private readonly byKey = new Map<number, Handler>();
  private readonly ranges: readonly ApiVersionRange[];

  /**
   * `codecRange(apiKey)` gives the versions the protocol package can decode; a handler
   * claiming more is a start-up error rather than a decode failure at run time.
   */
  constructor(handlers: readonly Handler[], codecRange?: (apiKey: number) => { minVersion: number; maxVersion: number } | undefined) {
    for (const handler of handlers) {
      if (this.byKey.has(handler.apiKey)) throw new HandlerRegistryError(`Two handlers registered for api key ${handler.apiKey} (${handler.name})`);
      if (!(Number.isInteger(handler.minVersion) && Number.isInteger(handler.maxVersion) && handler.minVersion >= 0 && handler.minVersion <= handler.maxVersion)) {
        throw new HandlerRegistryError(`Handler ${handler.name} has an invalid version range ${handler.minVersion}-${handler.maxVersion}`);
      }
      if (codecRange) {
        const codec = codecRange(handler.apiKey);
        if (!codec) throw new HandlerRegistryError(`Handler ${handler.name} serves api key ${handler.apiKey}, which has no codec`);
        if (handler.minVersion < codec.minVersion || handler.maxVersion > codec.maxVersion) {
          throw new HandlerRegistryError(`Handler ${handler.name} serves versions ${handler.minVersion}-${handler.maxVersion}, but the codec knows only ${codec.minVersion}-${codec.maxVersion}`);
        }
      }
      this.byKey.set(handler.apiKey, handler);
    }
    this.ranges = [...this.byKey.values()]
      .sort((a, b) => a.apiKey - b.apiKey)
      .map((h) => ({ apiKey: h.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion }));
  }

  get(apiKey: number): Handler | undefined {
    return this.byKey.get(apiKey);
  }

  /** The ranges ApiVersions advertises, by api key. */
  apiVersions(): readonly ApiVersionRange[] {
    return this.ranges;
  }
}
