// Wire primitives shared by every codec: Reader, Writer, their errors.
export * from './constants.js';
export * from './errors.js';
export * from './reader.js';
export type * from './tagged-field.js';
export * from './writer.js';
