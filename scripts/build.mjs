// Bundles the CLI with esbuild. Code splitting keeps `serve` (run on every SSH
// connection) from loading yargs, the generator or the audit reader.
import { chmod } from 'node:fs/promises';
import { build } from 'esbuild';

await build({
  entryPoints: { 'borg-gate': 'src/main.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
  },
  chunkNames: 'chunks/[name]-[hash]',
  // ssh2 loads optional native addons (.node files) that esbuild cannot bundle; it stays a
  // runtime dependency resolved from node_modules.
  external: ['ssh2'],
  logLevel: 'warning',
});
await chmod('dist/borg-gate.js', 0o755);
