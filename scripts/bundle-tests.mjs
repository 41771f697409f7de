// Bundles test files for scripts/test.sh's lanes: each `*.test.ts` becomes an ES module that,
// with the shared chunks it imports (OUT_DIR/chunks), holds it and every source module it
// reaches (the workspace packages through their "source" export condition), written under
// OUT_DIR at the same relative path. A trivial test file's process then costs ~1.1 s of CPU
// where ~300 source modules through tsx's loader hooks cost ~2.3 s (Node 20 runs loader hooks
// on another thread and pays a round trip per module), and a run starts ~135 test processes
// on a 2-core machine.
//
//   node scripts/bundle-tests.mjs OUT_DIR FILE...
//
// What stays as it was: packages from node_modules are not bundled (imported from the bundle,
// which sits inside the repository so that they resolve); `import.meta.url`, `.dirname` and
// `.filename` keep the ORIGINAL module's values (tests find fixtures, scripts and Python files
// beside themselves, and the log cleaner finds its worker's source); a test process still runs
// with `--import tsx --conditions=source`, so the children, workers and scripts it starts from
// source files load as before.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const [outDir, ...files] = process.argv.slice(2);
if (!outDir || files.length === 0) {
  console.error('usage: bundle-tests.mjs OUT_DIR FILE...');
  process.exit(2);
}

/** Every `import.meta.<url|dirname|filename>` of a module becomes a literal of its own path. */
const originalImportMeta = {
  name: 'original-import-meta',
  setup(b) {
    b.onLoad({ filter: /\.[cm]?[jt]s$/ }, async (args) => {
      if (args.path.includes('/node_modules/')) return undefined;
      const text = await readFile(args.path, 'utf8');
      if (!text.includes('import.meta')) return undefined;
      const contents = text
        .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href))
        .replaceAll('import.meta.dirname', JSON.stringify(dirname(args.path)))
        .replaceAll('import.meta.filename', JSON.stringify(args.path));
      return { contents, loader: args.path.endsWith('.ts') ? 'ts' : 'js', resolveDir: dirname(args.path) };
    });
  },
};

/** Bare specifiers stay imports (node_modules), except the workspace's own packages. */
const externalPackages = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@tributary/') ? undefined : { path: args.path, external: true }));
  },
};

await build({
  entryPoints: files.map((f) => ({ in: f, out: f.replace(/\.ts$/, '') })),
  outdir: resolve(outDir),
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  conditions: ['source'],
  sourcemap: 'linked',
  // Classes and functions keep their own names (esbuild renames one of two same-named
  // declarations in one scope), as tests and logs see them from the sources.
  keepNames: true,
  // The modules that several test files share go into shared chunks, written once: bundling
  // ~135 files whole wrote a copy of the broker into each and took 6 times as long.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  plugins: [originalImportMeta, externalPackages],
  logLevel: 'warning',
});
