/**
 * SaslHandshake (api key 17), versions 0-1.
 *
 * Behaviour (Kafka's KafkaApis.handleSaslHandshakeRequest): on SASL listeners the exchange
 * is handled before dispatch (network/sasl/sasl-authenticator.ts), so a SaslHandshake that
 * reaches the request handlers comes on a connection that is not in a SASL exchange: on a
 * PLAINTEXT or SSL listener, or after authentication has finished without
 * re-authentication enabled (KIP-368). Kafka answers ILLEGAL_SASL_STATE with an empty mechanism list and keeps the
 * connection open; a client configured for SASL against a PLAINTEXT listener then reports
 * an authentication error at once (librdkafka: "SASL PLAIN mechanism handshake failed:
 * Broker: Request not valid in current SASL state") instead of seeing a closed connection.
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import type { Handler } from './registry.js';

export const saslHandshakeHandler: Handler<'SaslHandshake'> = {
  apiKey: ApiKey.SaslHandshake,
  name: 'SaslHandshake',
  minVersion: 0,
  maxVersion: 1,

  handle(req, ctx) {
    ctx.logger.info('SaslHandshake on a connection not in a SASL exchange (a client configured for SASL against a PLAINTEXT or SSL listener?)', { mechanism: req.mechanism });
    return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] };
  },

  errorResponse(_req, errorCode) {
    return { errorCode, mechanisms: [] };
  },
};
