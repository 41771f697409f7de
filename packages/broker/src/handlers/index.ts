/**
 * Every request handler the broker serves, in one list. ApiVersions advertises exactly
 * these (see registry.ts); add a handler here and it is dispatched and advertised.
 */
import type { Handler } from './registry.js';
import { apiVersionsHandler } from './api-versions.js';

export const HANDLERS: readonly Handler<any, any>[] = [
  apiVersionsHandler,
];
