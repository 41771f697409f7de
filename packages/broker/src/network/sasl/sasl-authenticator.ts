/**
 * The SASL exchange of one connection on a SASL_PLAINTEXT or SASL_SSL listener, Kafka's
 * SaslServerAuthenticator. It sees every frame of the connection before the request
 * dispatcher does (RequestDispatcher.process) and keeps the ones that belong to the
 * exchange:
 *
 *   handshake-or-versions  ApiVersions (answered by its handler) or SaslHandshake
 *   handshake              SaslHandshake
 *   authenticate           SaslAuthenticate (handshake v1), or raw tokens (handshake v0:
 *                          the SASL token is the whole frame and the answer is a bare
 *                          token, no Kafka header, as Kafka still supports)
 *   complete               every frame goes to the dispatcher, except a SaslHandshake
 *                          that starts a re-authentication (KIP-368)
 *
 * Any other request before authentication closes the connection with a logged reason
 * ("Unexpected Kafka request of type X during SASL handshake"), as Kafka does, without an
 * answer. A handshake naming a mechanism that is not enabled is answered
 * UNSUPPORTED_SASL_MECHANISM with the enabled list, then the connection closes. A failed
 * exchange is answered SASL_AUTHENTICATION_FAILED with Kafka's message and closes; the
 * broker logs "Failed authentication" with the listener, remote address, mechanism and
 * reason, never the password, proof or token.
 *
 * Sessions (KIP-368): with `connections.max.reauth.ms` > 0, or a credential that expires
 * (an OAuth token), SaslAuthenticate v1+ answers session_lifetime_ms, the time left of
 * min(connections.max.reauth.ms, credential lifetime). A request that arrives after the
 * session ended, other than the SaslHandshake of a re-authentication, closes the
 * connection. A re-authentication must use the same mechanism and end with the same
 * principal, else it fails as an authentication failure.
 */
import {
  ApiKey, apiSpecByKey, decodeRequestHeader, encodeResponseHeader, ErrorCode, Reader, requestHeaderVersion,
  responseHeaderVersion, Writer,
} from '@tributary/protocol';
import type { Logger } from '../../logger.js';
import type { ConnectionInfo, ResponseAction } from '../request-processor.js';
import type { SaslMechanismServer, SaslStep } from './mechanism.js';
import { EMPTY } from './mechanism.js';
import { PlainServer } from './plain.js';
import { isScramMechanism, ScramServer } from './scram.js';
import { OAuthBearerServer } from './oauthbearer.js';
import type { SaslListenerConfig } from './sasl-config.js';

type State = 'handshake-or-versions' | 'handshake' | 'authenticate' | 'complete' | 'failed';

/** SaslHandshake and SaslAuthenticate versions served (the handlers' ranges agree). */
const HANDSHAKE_MAX_VERSION = 1;
const AUTHENTICATE_MAX_VERSION = 2;

interface Header {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
  readonly reader: Reader;
}

export class SaslServerAuthenticator {
  private state: State = 'handshake-or-versions';
  private handshakeVersion = 1;
  private server: SaslMechanismServer | undefined;
  private mechanism: string | undefined;
  private reauthenticating = false;
  private sessionExpiresAtMs: number | undefined;

  constructor(
    private readonly config: SaslListenerConfig,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get complete(): boolean {
    return this.state === 'complete';
  }

  /**
   * Handles `frame` if it belongs to the SASL exchange (or must close the connection);
   * returns undefined when the dispatcher should handle it as an ordinary request.
   */
  intercept(frame: Buffer, connection: ConnectionInfo): ResponseAction | undefined {
    switch (this.state) {
      case 'complete':
        return this.whenComplete(frame, connection);
      case 'handshake-or-versions':
      case 'handshake': {
        const header = parseHeader(frame);
        if (header === undefined) return this.close(connection, 'a frame that is not a Kafka request during the SASL handshake (GSSAPI without handshake is not supported)');
        if (header.apiKey === ApiKey.ApiVersions && this.state === 'handshake-or-versions' && !this.reauthenticating) {
          this.state = 'handshake';
          return undefined;
        }
        if (header.apiKey !== ApiKey.SaslHandshake) return this.close(connection, `Unexpected Kafka request of type ${apiName(header.apiKey)} during SASL handshake`);
        return this.handshake(header, connection);
      }
      case 'authenticate':
        return this.authenticate(frame, connection);
      case 'failed':
        return this.close(connection, 'request after a failed SASL authentication');
    }
  }

  private whenComplete(frame: Buffer, connection: ConnectionInfo): ResponseAction | undefined {
    const isHandshake = frame.length >= 2 && frame.readInt16BE(0) === ApiKey.SaslHandshake;
    if (isHandshake && this.sessionExpiresAtMs !== undefined) {
      const header = parseHeader(frame);
      if (header === undefined) return this.close(connection, 'malformed SaslHandshake request header');
      this.reauthenticating = true;
      return this.handshake(header, connection);
    }
    if (this.sessionExpiresAtMs !== undefined && this.now() > this.sessionExpiresAtMs) {
      this.logger.info('Closing connection: its SASL session expired without re-authentication', { connection: connection.id, listener: connection.listenerName, principal: connection.principal });
      return { type: 'close', reason: 'SASL session expired (connections.max.reauth.ms or credential lifetime)' };
    }
    return undefined;
  }

  private handshake(header: Header, connection: ConnectionInfo): ResponseAction {
    if (header.apiVersion > HANDSHAKE_MAX_VERSION) return this.close(connection, `unsupported SaslHandshake version ${header.apiVersion}`);
    let mechanism: string;
    try {
      mechanism = (apiSpecByKey(ApiKey.SaslHandshake)!.decodeRequest(header.reader, header.apiVersion) as { mechanism: string }).mechanism;
    } catch (err) {
      return this.close(connection, `cannot decode SaslHandshake: ${(err as Error).message}`);
    }
    const enabled = this.config.enabledMechanisms;
    const sameAsBefore = !this.reauthenticating || mechanism === this.mechanism;
    if (!enabled.includes(mechanism) || !sameAsBefore) {
      this.state = 'failed';
      this.logger.info('Failed authentication: unsupported SASL mechanism', { connection: connection.id, listener: connection.listenerName, remote: connection.remoteAddress, mechanism, enabled: enabled.join(','), reauthentication: this.reauthenticating });
      return this.respond(header, { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: [...enabled] }, `client requested SASL mechanism ${JSON.stringify(mechanism)}, which is not enabled (${enabled.join(', ')})${sameAsBefore ? '' : ' or differs from the one it authenticated with'}`);
    }
    this.mechanism = mechanism;
    this.handshakeVersion = header.apiVersion;
    this.server = this.newServer(mechanism);
    this.state = 'authenticate';
    return this.respond(header, { errorCode: ErrorCode.NONE, mechanisms: [...enabled] });
  }

  private newServer(mechanism: string): SaslMechanismServer {
    if (mechanism === 'PLAIN') return new PlainServer(this.config.plainUsers, this.reauthenticating);
    if (isScramMechanism(mechanism)) return new ScramServer(mechanism, this.config.scramCredentials, this.reauthenticating);
    return new OAuthBearerServer(this.config.oauthBearer, this.reauthenticating);
  }

  private authenticate(frame: Buffer, connection: ConnectionInfo): ResponseAction {
    if (this.handshakeVersion === 0) {
      // Raw token: the frame is the token and the answer a bare token (or a close).
      const step = this.evaluate(frame, connection);
      if (step.type === 'failed') return this.close(connection, `SASL authentication failed: ${step.clientMessage}`);
      return { type: 'send', chunks: [step.bytes] };
    }
    const header = parseHeader(frame);
    if (header === undefined) return this.close(connection, 'a frame that is not a Kafka request during SASL authentication');
    if (header.apiKey !== ApiKey.SaslAuthenticate) return this.close(connection, `Unexpected Kafka request of type ${apiName(header.apiKey)} during SASL authentication`);
    if (header.apiVersion > AUTHENTICATE_MAX_VERSION) return this.close(connection, `unsupported SaslAuthenticate version ${header.apiVersion}`);
    let authBytes: Buffer;
    try {
      authBytes = (apiSpecByKey(ApiKey.SaslAuthenticate)!.decodeRequest(header.reader, header.apiVersion) as { authBytes: Buffer }).authBytes;
    } catch (err) {
      return this.close(connection, `cannot decode SaslAuthenticate: ${(err as Error).message}`);
    }
    const step = this.evaluate(authBytes, connection);
    if (step.type === 'failed') {
      return this.respond(header, { errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: step.clientMessage, authBytes: EMPTY, sessionLifetimeMs: 0 }, `SASL authentication failed: ${step.clientMessage}`);
    }
    const sessionLifetimeMs = step.type === 'complete' ? this.sessionLifetimeMs(step) : 0;
    return this.respond(header, { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: step.bytes, sessionLifetimeMs });
  }

  /** Runs the mechanism; on completion records the principal; logs a failure. */
  private evaluate(token: Buffer, connection: ConnectionInfo): SaslStep {
    let step: SaslStep;
    try {
      step = this.server!.evaluate(token, this.now());
    } catch (err) {
      // A bug in a mechanism: refuse rather than crash; the stack goes to the log.
      this.logger.error('SASL mechanism failed unexpectedly', { err, mechanism: this.mechanism, connection: connection.id });
      step = { type: 'failed', clientMessage: `Authentication failed with SASL mechanism ${this.mechanism}`, logReason: 'internal error' };
    }
    const where = { connection: connection.id, listener: connection.listenerName, remote: connection.remoteAddress, mechanism: this.mechanism, reauthentication: this.reauthenticating };
    if (step.type === 'challenge' && step.logReason !== undefined) this.logger.info('Failed authentication (refusing the client\'s credentials)', { ...where, reason: step.logReason });
    if (step.type === 'failed') {
      this.state = 'failed';
      this.logger.info('Failed authentication', { ...where, reason: step.logReason });
    }
    if (step.type === 'complete') {
      if (this.reauthenticating && step.principal !== connection.principal) {
        this.state = 'failed';
        const message = `Cannot change principals during re-authentication from ${connection.principal}: ${step.principal}`;
        this.logger.info('Failed authentication', { ...where, reason: message });
        return { type: 'failed', clientMessage: message, logReason: message };
      }
      connection.principal = step.principal;
      this.state = 'complete';
      this.logger.debug('Authenticated', { ...where, principal: step.principal });
    }
    return step;
  }

  private sessionLifetimeMs(step: Extract<SaslStep, { type: 'complete' }>): number {
    const nowMs = this.now();
    const maxReauthMs = this.config.connectionsMaxReauthMs;
    const credentialMs = step.credentialExpiresAtMs === undefined ? undefined : Math.max(0, step.credentialExpiresAtMs - nowMs);
    let lifetimeMs: number | undefined;
    if (credentialMs !== undefined && maxReauthMs > 0) lifetimeMs = Math.min(credentialMs, maxReauthMs);
    else if (credentialMs !== undefined) lifetimeMs = credentialMs;
    else if (maxReauthMs > 0) lifetimeMs = maxReauthMs;
    this.sessionExpiresAtMs = lifetimeMs === undefined ? undefined : nowMs + lifetimeMs;
    return lifetimeMs ?? 0;
  }

  private respond(header: Header, response: object, closeAfter?: string): ResponseAction {
    const spec = apiSpecByKey(header.apiKey)!;
    const w = new Writer(128);
    encodeResponseHeader(w, responseHeaderVersion(header.apiKey, header.apiVersion), { correlationId: header.correlationId });
    spec.encodeResponse(w, header.apiVersion, response);
    return closeAfter === undefined ? { type: 'send', chunks: w.chunks() } : { type: 'send', chunks: w.chunks(), closeAfter };
  }

  private close(connection: ConnectionInfo, reason: string): ResponseAction {
    this.state = 'failed';
    this.logger.info('Closing connection during SASL authentication', { connection: connection.id, listener: connection.listenerName, remote: connection.remoteAddress, reason });
    return { type: 'close', reason };
  }
}

function parseHeader(frame: Buffer): Header | undefined {
  if (frame.length < 8) return undefined;
  const apiKey = frame.readInt16BE(0);
  const apiVersion = frame.readInt16BE(2);
  if (apiSpecByKey(apiKey) === undefined || apiVersion < 0) return undefined;
  const reader = new Reader(frame);
  try {
    const decoded = decodeRequestHeader(reader, requestHeaderVersion(apiKey, apiVersion));
    return { apiKey, apiVersion, correlationId: decoded.correlationId, clientId: decoded.clientId ?? null, reader };
  } catch {
    return undefined;
  }
}

/** Kafka's ApiKeys enum name, as its messages print it: ListOffsets -> LIST_OFFSETS. */
function apiName(apiKey: number): string {
  const name = apiSpecByKey(apiKey)?.name;
  return name === undefined ? `api key ${apiKey}` : name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}
