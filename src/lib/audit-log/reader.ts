import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type LogTextChunk, readLogTextChunks } from './chunks.js';
import { AuditLogError, errorCode } from './errors.js';

/** One line of a log file, numbered from 1, without its newline. */
export interface LogLine {
  file: string;
  line: number;
  text: string;
  /** False for a last line that ends without a newline (cut off by a crash or an edit). */
  complete: boolean;
}

/**
 * Lists the current log and its rotated copies (`audit.log.1`, `audit.log.2.gz`, ...)
 * oldest first, which is the order their records were written in.
 * TODO: logrotate's `dateext` names (audit.log-20260101) are not recognised.
 */
export function listLogFiles(logPath: string): string[] {
  const directory = dirname(logPath);
  const base = basename(logPath);
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch (error) {
    throw new AuditLogError(
      logPath,
      `can not list directory ${directory} (${errorCode(error) ?? 'error'}): check --file`,
      { cause: error },
    );
  }
  const rotated: Array<{ name: string; index: number }> = [];
  for (const name of names) {
    const match = rotatedIndex(base, name);
    if (match !== undefined) {
      rotated.push({ name, index: match });
    }
  }
  rotated.sort((a, b) => b.index - a.index);
  const files = rotated.map((entry) => join(directory, entry.name));
  if (names.includes(base)) {
    files.push(logPath);
  }
  if (files.length === 0) {
    throw new AuditLogError(logPath, 'not found, and no rotated copies next to it: check --file');
  }
  return files;
}

function rotatedIndex(base: string, name: string): number | undefined {
  if (!name.startsWith(`${base}.`)) {
    return undefined;
  }
  const match = /^(\d+)(\.gz)?$/.exec(name.slice(base.length + 1));
  return match === null ? undefined : Number(match[1]);
}

/**
 * Streams the lines of one file in batches (one batch per decoded chunk), decompressing
 * `.gz` files, with flat memory use. Batches keep the per-line cost of async iteration low.
 */
export async function* readLogLineBatches(file: string): AsyncGenerator<LogLine[]> {
  let line = 0;
  for await (const chunk of readLogTextChunks(file)) {
    const batch: LogLine[] = [];
    for (const text of chunk.text.split('\n')) {
      batch.push({ file, line: ++line, text, complete: chunk.complete });
    }
    yield batch;
  }
}

/** Streams decoded chunks of the current log and its rotated copies, oldest first. */
export async function* readAllLogTextChunks(logPath: string): AsyncGenerator<LogTextChunk> {
  for (const file of listLogFiles(logPath)) {
    yield* readLogTextChunks(file);
  }
}

/** Streams the lines of one file; see `readLogLineBatches`. */
export async function* readLogLines(file: string): AsyncGenerator<LogLine> {
  for await (const batch of readLogLineBatches(file)) {
    yield* batch;
  }
}

/** Streams line batches of the current log and its rotated copies, oldest first. */
export async function* readAllLogLineBatches(logPath: string): AsyncGenerator<LogLine[]> {
  for (const file of listLogFiles(logPath)) {
    yield* readLogLineBatches(file);
  }
}

/**
 * Returns true when `time` and `event` are strings, as in every audit record. Queries skip
 * other JSON objects, which would show as empty rows.
 */
export function hasTimeAndEvent(time: unknown, event: unknown): boolean {
  return typeof time === 'string' && typeof event === 'string';
}

/** Parses a line into a JSON object. Returns undefined for anything else. */
export function parseLine(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // Not JSON: the caller reports or skips it by line number.
  }
  return undefined;
}

/** Streams the lines of the current log and its rotated copies, oldest first. */
export async function* readAllLogLines(logPath: string): AsyncGenerator<LogLine> {
  for await (const batch of readAllLogLineBatches(logPath)) {
    yield* batch;
  }
}
