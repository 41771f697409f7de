// Bundles the broker's entry point into one ES module file. Loading one file is 2-3x faster
// than Node's module loader walking ~250 compiled files (most of them generated codecs),
// which is most of `npm start`'s start-up time. Native addons stay external.
import { build } from 'esbuild';

const options = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  conditions: ['source'],
  sourcemap: 'linked',
  // etcd3 (and gRPC under it) is loaded by a dynamic import only when etcd.endpoints is set, so a
  // single broker never pays for it; kept external, it resolves from node_modules at run time.
  external: ['@node-rs/crc32', 'snappy', 'lz4-napi', '@mongodb-js/zstd', 'etcd3'],
  // Bundled CommonJS dependencies call require(); give the ES module one.
  banner: { js: "import { createRequire as __tributaryCreateRequire } from 'node:module'; const require = __tributaryCreateRequire(import.meta.url);" },
  logLevel: 'warning',
};
// The log cleaner runs in worker threads that load `./log-cleaner-worker.js` beside the code
// that starts them (packages/storage/src/log-cleaner.ts), which in the bundle is this directory:
// without that file a bundled broker never compacts (its cleaner threads die at start).
await Promise.all([
  build({ ...options, entryPoints: ['packages/broker/src/main.ts'], outfile: 'packages/broker/dist/main.bundle.mjs' }),
  build({ ...options, entryPoints: ['packages/storage/src/log-cleaner-worker.ts'], outfile: 'packages/broker/dist/log-cleaner-worker.js' }),
]);
