import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey } from '@tributary/protocol';
import { HANDLERS } from '../src/handlers/index.js';
import type { Handler } from '../src/handlers/registry.js';

test('every registered handler serves the api key of its name', () => {
  for (const handler of HANDLERS) assert.equal(handler.apiKey, ApiKey[handler.name], handler.name);
});

test('a handler cannot claim another API\'s key or answer with another API\'s response (compile-time)', () => {
  // These checks are made by `tsc -p tsconfig.test.json`: each @ts-expect-error fails the
  // typecheck if the line below it ever compiles.
  const wrongKey: Handler<'Heartbeat'> = {
    // @ts-expect-error JoinGroup's key on a Heartbeat handler
    apiKey: ApiKey.JoinGroup,
    name: 'Heartbeat', minVersion: 0, maxVersion: 4,
    handle: () => ({ throttleTimeMs: 0, errorCode: 0 }),
  };
  const wrongResponse: Handler<'ListGroups'> = {
    apiKey: ApiKey.ListGroups, name: 'ListGroups', minVersion: 0, maxVersion: 4,
    // @ts-expect-error a Heartbeat response has no groups
    handle: (req) => ({ throttleTimeMs: 0, errorCode: 0, statesFilter: req.statesFilter }),
  };
  assert.notEqual(wrongKey.apiKey, ApiKey.Heartbeat);
  assert.equal(wrongResponse.apiKey, ApiKey.ListGroups);
});
