/**
 * Loading the golden fixtures captured by scripts/capture-goldens.ts.
 *
 * Each file is one whole frame as it crossed the wire, size prefix included:
 *
 *   request file   <Api>-v<N>.bin           size:int32 | request header | request body
 *   response file  <Api>-v<N>-response.bin  size:int32 | response header | response body
 *
 * The header versions follow from the API key and version (requestHeaderVersion /
 * responseHeaderVersion), exactly as the broker's network layer picks them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Reader, Writer, apiSpecByKey, decodeRequestHeader, decodeResponseHeader, encodeRequestHeader,
  encodeResponseHeader, requestHeaderVersion, responseHeaderVersion,
  type ApiSpec, type RequestHeader, type ResponseHeader,
} from '../../src/index.js';
import type { GoldenClient } from './session.js';

export const GOLDEN_DIR = import.meta.dirname;

export interface DecodedFrame<H> {
  /** The whole frame as captured. */
  frame: Buffer;
  header: H;
  headerVersion: number;
  body: unknown;
  /** Bytes left in the frame after the body (0 when the codec consumed everything). */
  remaining: number;
}

export interface GoldenExchange {
  client: GoldenClient;
  /** File name without `.bin`, e.g. `Produce-v7`. */
  name: string;
  spec: ApiSpec;
  version: number;
  request: DecodedFrame<RequestHeader>;
  response: DecodedFrame<ResponseHeader>;
}

function payloadOf(frame: Buffer, file: string): Buffer {
  if (frame.length < 4 || frame.readInt32BE(0) !== frame.length - 4) {
    throw new Error(`${file}: size prefix ${frame.length >= 4 ? frame.readInt32BE(0) : '?'} does not match ${frame.length - 4} bytes`);
  }
  return frame.subarray(4);
}

export function decodeRequestFrame(frame: Buffer, file: string): { spec: ApiSpec; version: number; decoded: DecodedFrame<RequestHeader> } {
  const payload = payloadOf(frame, file);
  const apiKey = payload.readInt16BE(0);
  const version = payload.readInt16BE(2);
  const spec = apiSpecByKey(apiKey);
  if (spec === undefined) throw new Error(`${file}: unknown api key ${apiKey}`);
  const headerVersion = requestHeaderVersion(apiKey, version);
  const r = new Reader(payload);
  const header = decodeRequestHeader(r, headerVersion);
  const body = spec.decodeRequest(r, version);
  return { spec, version, decoded: { frame, header, headerVersion, body, remaining: r.remaining } };
}

export function decodeResponseFrame(frame: Buffer, file: string, spec: ApiSpec, version: number): DecodedFrame<ResponseHeader> {
  const payload = payloadOf(frame, file);
  const headerVersion = responseHeaderVersion(spec.apiKey, version);
  const r = new Reader(payload);
  const header = decodeResponseHeader(r, headerVersion);
  const body = spec.decodeResponse(r, version);
  return { frame, header, headerVersion, body, remaining: r.remaining };
}

/** Encodes a decoded request again: header and body, no size prefix. */
export function reencodeRequest(ex: GoldenExchange): Buffer {
  const w = new Writer();
  encodeRequestHeader(w, ex.request.headerVersion, ex.request.header);
  ex.spec.encodeRequest(w, ex.version, ex.request.body);
  return w.finish();
}

export function reencodeResponse(ex: GoldenExchange): Buffer {
  const w = new Writer();
  encodeResponseHeader(w, ex.response.headerVersion, ex.response.header);
  ex.spec.encodeResponse(w, ex.version, ex.response.body);
  return w.finish();
}

/** Every exchange captured for a client, sorted by file name. */
export function loadGoldens(client: GoldenClient): GoldenExchange[] {
  const dir = join(GOLDEN_DIR, client);
  const files = readdirSync(dir).filter((f) => f.endsWith('.bin') && !f.endsWith('-response.bin')).sort();
  return files.map((file) => {
    const name = file.slice(0, -'.bin'.length);
    const { spec, version, decoded } = decodeRequestFrame(readFileSync(join(dir, file)), `${client}/${file}`);
    if (name !== `${spec.name}-v${version}`) throw new Error(`${client}/${file} holds ${spec.name} v${version}`);
    const responseFile = `${name}-response.bin`;
    const response = decodeResponseFrame(readFileSync(join(dir, responseFile)), `${client}/${responseFile}`, spec, version);
    return { client, name, spec, version, request: decoded, response };
  });
}
