/**
 * Errors raised by the wire codecs. Bytes from the network are untrusted: every malformed
 * input surfaces as a `ProtocolDecodeError` (never a RangeError from deep inside Buffer),
 * so the network layer can close the one offending connection and keep serving the rest.
 * Encoding errors mean the caller built a message the wire format cannot carry (a null in a
 * non-nullable field, a string longer than 32767 bytes): a bug in our code, not the peer's.
 */
export class ProtocolDecodeError extends Error {
  readonly code = 'TRIB_ERR_PROTOCOL_DECODE' as const;

  constructor(message: string) {
    super(message);
    this.name = 'ProtocolDecodeError';
  }
}

export class ProtocolEncodeError extends Error {
  readonly code = 'TRIB_ERR_PROTOCOL_ENCODE' as const;

  constructor(message: string) {
    super(message);
    this.name = 'ProtocolEncodeError';
  }
}
