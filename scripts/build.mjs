// Bundles the CLI with esbuild. Code splitting keeps `serve` (run on every SSH
// connection) from loading yargs, the generator or the audit reader, and `serve` has a
// bundle of its own (SEPARATE_ENTRIES below).
import { createHash } from 'node:crypto';
import { chmod, readdir, readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { build } from 'esbuild';

/**
 * Hashes every source file and the lockfile. The policy cache records this id, so a cache
 * written by one build, whose schema or defaults may differ, is never read by another.
 */
async function buildId() {
  const hash = createHash('sha256');
  const files = (await readdir('src', { recursive: true }))
    .filter((name) => name.endsWith('.ts'))
    .sort();
  for (const name of [...files.map((file) => join('src', file)), 'package-lock.json']) {
    hash.update(`${name}\0`);
    hash.update(await readFile(name));
  }
  return hash.digest('hex').slice(0, 32);
}

const { version } = JSON.parse(await readFile('package.json', 'utf8'));

// Chunk names carry content hashes, so old chunks would pile up in dist/ and ship with npm pack.
await rm('dist', { recursive: true, force: true });

/**
 * Entry points bundled in a build of their own, so the process that runs them loads their
 * few chunks instead of the many small ones they would share with the CLI. Each `import` is
 * the specifier src/main.ts uses, which the CLI bundle keeps as an import of `output`.
 */
const SEPARATE_ENTRIES = [
  {
    import: './commands/serve-main.js',
    source: 'src/commands/serve-main.ts',
    output: './serve/serve-main.js',
  },
];

// CommonJS dependencies in the ESM bundle call require; scripts/cjs-globals.mjs supplies
// __filename and __dirname.
const requireBanner = [
  "import { createRequire as __createRequire } from 'node:module';",
  'const require = __createRequire(import.meta.url);',
];

const common = {
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  inject: ['scripts/cjs-globals.mjs'],
  chunkNames: 'chunks/[name]-[hash]',
  // ssh2 loads optional native addons (.node files) that esbuild cannot bundle; it stays a
  // runtime dependency resolved from node_modules.
  external: ['ssh2'],
  define: {
    BORG_GATE_BUILD_ID: JSON.stringify(await buildId()),
    BORG_GATE_VERSION: JSON.stringify(version),
  },
  logLevel: 'warning',
};

/** Leaves each separate entry out of the CLI bundle, as an import of its own output file. */
const importSeparateEntries = {
  name: 'import-separate-entries',
  setup(context) {
    for (const entry of SEPARATE_ENTRIES) {
      const filter = new RegExp(`^${entry.import.replaceAll('.', '\\.')}$`);
      context.onResolve({ filter }, () => ({ path: entry.output, external: true }));
    }
  },
};

await build({
  ...common,
  entryPoints: { 'borg-gate': 'src/main.ts' },
  outdir: 'dist',
  banner: { js: ['#!/usr/bin/env node', ...requireBanner].join('\n') },
  plugins: [importSeparateEntries],
});

for (const entry of SEPARATE_ENTRIES) {
  const output = join('dist', entry.output);
  await build({
    ...common,
    entryPoints: { [basename(output, '.js')]: entry.source },
    outdir: dirname(output),
    banner: { js: requireBanner.join('\n') },
  });
}
await chmod('dist/borg-gate.js', 0o755);
