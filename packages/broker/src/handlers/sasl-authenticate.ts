/**
 * SaslAuthenticate (api key 36), versions 0-2.
 *
 * Behaviour (Kafka's KafkaApis.handleSaslAuthenticateRequest): a SaslAuthenticate that
 * reaches the request handlers comes on a connection that is not in a SASL exchange (a
 * PLAINTEXT or SSL listener, or after authentication finished; the exchange itself is
 * handled before dispatch by network/sasl/sasl-authenticator.ts). Kafka answers ILLEGAL_SASL_STATE with
 * the message "SaslAuthenticate request received after successful authentication", empty
 * auth bytes and a session lifetime of 0, and keeps the connection open.
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import type { Handler } from './registry.js';

/** Kafka's message for this answer, word for word. */
const NOT_IN_SASL_EXCHANGE_MESSAGE = 'SaslAuthenticate request received after successful authentication';
const NO_AUTH_BYTES = Buffer.alloc(0);

export const saslAuthenticateHandler: Handler<'SaslAuthenticate'> = {
  apiKey: ApiKey.SaslAuthenticate,
  name: 'SaslAuthenticate',
  minVersion: 0,
  maxVersion: 2,

  handle(_req, ctx) {
    ctx.logger.info('SaslAuthenticate on a connection not in a SASL exchange (a client configured for SASL against a PLAINTEXT or SSL listener?)');
    return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, errorMessage: NOT_IN_SASL_EXCHANGE_MESSAGE, authBytes: NO_AUTH_BYTES, sessionLifetimeMs: 0 };
  },

  errorResponse(_req, errorCode) {
    return { errorCode, errorMessage: null, authBytes: NO_AUTH_BYTES, sessionLifetimeMs: 0 };
  },
};
