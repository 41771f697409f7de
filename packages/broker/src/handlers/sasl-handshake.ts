/**
 * SaslHandshake (api key 17), versions 0-1.
 *
 * Behaviour (Kafka's KafkaApis.handleSaslHandshakeRequest): a SaslHandshake that reaches
 * the request handlers comes on a connection that is not in a SASL exchange: on a
 * PLAINTEXT listener (the only kind this broker has), or after authentication has already
 * finished. Kafka answers ILLEGAL_SASL_STATE with an empty mechanism list and keeps the
 * connection open; a client configured for SASL against a PLAINTEXT listener then reports
 * an authentication error at once (librdkafka: "SASL PLAIN mechanism handshake failed:
 * Broker: Request not valid in current SASL state") instead of seeing a closed connection.
 *
 * SASL listeners are not built yet (start-up refuses them), so there is no other answer.
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import type { Handler } from './registry.js';

export const saslHandshakeHandler: Handler<'SaslHandshake'> = {
  apiKey: ApiKey.SaslHandshake,
  name: 'SaslHandshake',
  minVersion: 0,
  maxVersion: 1,

  handle(req, ctx) {
    ctx.logger.info('SaslHandshake on a connection without SASL (a client configured for SASL against a PLAINTEXT listener?)', { mechanism: req.mechanism });
    return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] };
  },

  errorResponse(_req, errorCode) {
    return { errorCode, mechanisms: [] };
  },
};
