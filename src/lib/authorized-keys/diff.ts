/** Line diff for `keys check`, printed in unified format so admins can read it like `diff -u`. */

type Edit = { kind: ' ' | '-' | '+'; line: string };

/** Above this many differing lines the diff shows the whole old and new text instead of an LCS. */
const MAX_EDIT_DISTANCE = 2000;
const CONTEXT_LINES = 3;

/**
 * Formats a unified diff of two texts, numbering their lines from `firstLine`, where both
 * start in the file they belong to. Returns '' when they have the same lines, which includes
 * texts that differ only in a final newline.
 */
export function unifiedDiff(
  oldText: string,
  newText: string,
  oldName: string,
  newName: string,
  firstLine = 1,
): string {
  if (oldText === newText) {
    return '';
  }
  const edits = diffLines(splitLines(oldText), splitLines(newText));
  if (edits.every((edit) => edit.kind === ' ')) {
    return '';
  }
  const hunks = formatHunks(edits, firstLine);
  return `--- ${oldName}\n+++ ${newName}\n${hunks}`;
}

function splitLines(text: string): string[] {
  if (text === '') {
    return [];
  }
  const lines = text.split('\n');
  if (lines.at(-1) === '') {
    lines.pop();
  }
  return lines;
}

/** Computes a shortest edit script with the Myers O(ND) algorithm (longest common subsequence). */
function diffLines(before: string[], after: string[]): Edit[] {
  const n = before.length;
  const m = after.length;
  const max = Math.min(n + m, MAX_EDIT_DISTANCE);
  const offset = max + 1;
  const frontier = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d += 1) {
    trace.push(frontier.slice());
    for (let k = -d; k <= d; k += 2) {
      const down = k === -d || (k !== d && frontier[offset + k - 1]! < frontier[offset + k + 1]!);
      let x = down ? frontier[offset + k + 1]! : frontier[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && before[x] === after[y]) {
        x += 1;
        y += 1;
      }
      frontier[offset + k] = x;
      if (x >= n && y >= m) {
        return backtrack(trace, before, after, offset, d);
      }
    }
  }
  return [
    ...before.map((line) => ({ kind: '-' as const, line })),
    ...after.map((line) => ({ kind: '+' as const, line })),
  ];
}

function backtrack(
  trace: Int32Array[],
  before: string[],
  after: string[],
  offset: number,
  depth: number,
): Edit[] {
  const edits: Edit[] = [];
  let x = before.length;
  let y = after.length;
  for (let d = depth; d > 0; d -= 1) {
    const frontier = trace[d]!;
    const k = x - y;
    const down = k === -d || (k !== d && frontier[offset + k - 1]! < frontier[offset + k + 1]!);
    const previousK = down ? k + 1 : k - 1;
    const previousX = frontier[offset + previousK]!;
    const previousY = previousX - previousK;
    while (x > previousX && y > previousY) {
      x -= 1;
      y -= 1;
      edits.push({ kind: ' ', line: before[x]! });
    }
    if (down) {
      y -= 1;
      edits.push({ kind: '+', line: after[y]! });
    } else {
      x -= 1;
      edits.push({ kind: '-', line: before[x]! });
    }
  }
  while (x > 0 && y > 0) {
    x -= 1;
    y -= 1;
    edits.push({ kind: ' ', line: before[x]! });
  }
  return edits.reverse();
}

/** Groups edits into hunks with up to CONTEXT_LINES unchanged lines around each change. */
function formatHunks(edits: Edit[], firstLine: number): string {
  const output: string[] = [];
  let index = 0;
  let oldLine = firstLine;
  let newLine = firstLine;
  while (index < edits.length) {
    if (edits[index]!.kind === ' ') {
      index += 1;
      oldLine += 1;
      newLine += 1;
      continue;
    }
    const start = Math.max(index - CONTEXT_LINES, 0);
    let end = index;
    let quiet = 0;
    while (end < edits.length && quiet <= 2 * CONTEXT_LINES) {
      quiet = edits[end]!.kind === ' ' ? quiet + 1 : 0;
      end += 1;
    }
    end -= Math.max(quiet - CONTEXT_LINES, 0);
    const hunk = edits.slice(start, end);
    const leading = index - start;
    const oldCount = hunk.filter((edit) => edit.kind !== '+').length;
    const newCount = hunk.filter((edit) => edit.kind !== '-').length;
    output.push(`@@ -${oldLine - leading},${oldCount} +${newLine - leading},${newCount} @@`);
    for (const edit of hunk) {
      output.push(`${edit.kind}${edit.line}`);
    }
    for (const edit of edits.slice(index, end)) {
      oldLine += edit.kind === '+' ? 0 : 1;
      newLine += edit.kind === '-' ? 0 : 1;
    }
    index = end;
  }
  return `${output.join('\n')}\n`;
}
