import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const SERVE = 'src/commands/serve-main.ts';

/** Packages that `serve` may load only through `import()`, on the paths that need them. */
const KEPT_OFF_THE_HOT_PATH = [
  'zod',
  'yaml',
  'js-yaml',
  '@msgpack/msgpack',
  'pino',
  'yargs',
  'cli-table3',
];

let loaded: Set<string>;

/**
 * Bundles `src/commands/serve-main.ts` with code splitting, as scripts/build.mjs does, and returns
 * the input files of the chunks its entry loads through static imports. Files behind an
 * `import()` are left out, because they load only when that path runs.
 */
async function staticInputsOfServe(): Promise<Set<string>> {
  const result = await build({
    entryPoints: [SERVE],
    absWorkingDir: ROOT,
    outdir: join(ROOT, '.tmp/serve-bundle-test'),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['ssh2'],
    define: { BORG_GATE_BUILD_ID: '"test"' },
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  return collectStaticInputs(result.metafile);
}

function collectStaticInputs(metafile: Metafile): Set<string> {
  const outputs = metafile.outputs;
  // Every import() target is an entry point of its own, so look for serve's by name.
  const entry = Object.keys(outputs).find((path) => outputs[path]?.entryPoint === SERVE);
  const inputs = new Set<string>();
  const seen = new Set<string>();
  const pending = entry === undefined ? [] : [entry];
  for (let path = pending.pop(); path !== undefined; path = pending.pop()) {
    if (seen.has(path)) continue;
    seen.add(path);
    const output = outputs[path]!;
    for (const input of Object.keys(output.inputs)) inputs.add(input);
    for (const imported of output.imports) {
      if (imported.kind === 'import-statement' && !imported.external) pending.push(imported.path);
    }
  }
  return inputs;
}

function packageLoaded(name: string): boolean {
  return [...loaded].some((input) => input.includes(`node_modules/${name}/`));
}

beforeAll(async () => {
  loaded = await staticInputsOfServe();
}, 60_000);

describe('serve bundle', () => {
  it('loads the audit writer', () => {
    expect(loaded.has(SERVE)).toBe(true);
    expect(loaded.has('src/commands/serve.ts')).toBe(true);
    expect(loaded.has('src/lib/audit-log/writer.ts')).toBe(true);
  });

  it.each(KEPT_OFF_THE_HOT_PATH)('keeps %s behind import()', (name) => {
    expect(packageLoaded(name)).toBe(false);
  });

  it('keeps the policy loader behind import()', () => {
    expect(loaded.has('src/lib/policy/load.ts')).toBe(false);
  });

  it('keeps the audit schema behind import()', () => {
    expect(loaded.has('src/lib/audit-log/record.ts')).toBe(false);
  });
});
