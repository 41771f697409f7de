/**
 * The server side of one SASL mechanism for one authentication exchange (Java's SaslServer).
 * `evaluate` takes the client's next token and answers with the server's next token and
 * whether the exchange is done; a refusal is a `failed` outcome, never a throw (a throw is
 * a bug, which the authenticator turns into a refusal too, logged as such).
 *
 * `clientMessage` is what the client is told (SaslAuthenticate error_message), word for
 * word Kafka's; `logReason` is for the broker's log. Neither may hold a secret (password,
 * proof, token): both are written out.
 */
export type SaslStep =
  /** `logReason`: the exchange is failing and this challenge says so (OAUTHBEARER's error). */
  | { readonly type: 'challenge'; readonly bytes: Buffer; readonly logReason?: string }
  | {
    readonly type: 'complete';
    readonly bytes: Buffer;
    /** The principal, `User:<name>`. */
    readonly principal: string;
    /** When the credential itself expires (an OAuth token's exp), ms since the epoch. */
    readonly credentialExpiresAtMs?: number;
  }
  | { readonly type: 'failed'; readonly clientMessage: string; readonly logReason: string };

export interface SaslMechanismServer {
  readonly mechanism: string;
  evaluate(token: Buffer, nowMs: number): SaslStep;
}

/** Kafka's message when a SaslException (not a SaslAuthenticationException) ends the exchange. */
export function invalidCredentialsMessage(mechanism: string, reauthenticating: boolean): string {
  return `Authentication failed during ${reauthenticating ? 're-authentication' : 'authentication'} due to invalid credentials with SASL mechanism ${mechanism}`;
}

export const EMPTY = Buffer.alloc(0);
