// Injected by esbuild into the ESM bundle for CommonJS dependencies (write-file-atomic reads
// __filename). Injection only replaces free references, so modules that declare their own
// __dirname, as yargs does, keep theirs.
export const __filename = import.meta.filename;
export const __dirname = import.meta.dirname;
