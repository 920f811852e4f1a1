import { parseLine, readAllLogLineBatches } from '../audit-log/reader.js';

/** Last write per client, from `session_end` records whose RPC summary reports a commit. */
export interface WriteActivity {
  lastWrite: Map<string, Date>;
  /** Time of the oldest record in the current and rotated logs; undefined for an empty log. */
  firstRecord: Date | undefined;
}

/** Reads the audit log and its rotated copies once. Throws AuditLogError when no log file exists. */
export async function readWriteActivity(logPath: string): Promise<WriteActivity> {
  const lastWrite = new Map<string, Date>();
  let firstRecord: Date | undefined;
  for await (const batch of readAllLogLineBatches(logPath)) {
    for (const line of batch) {
      if (firstRecord === undefined) {
        firstRecord = recordTime(parseLine(line.text));
      }
      // Most records are not session ends with a commit; skip them before paying for JSON.parse.
      if (!line.text.includes('"session_end"') || !line.text.includes('"commit":true')) {
        continue;
      }
      noteWrite(lastWrite, parseLine(line.text));
    }
  }
  return { lastWrite, firstRecord };
}

function noteWrite(
  lastWrite: Map<string, Date>,
  record: Record<string, unknown> | undefined,
): void {
  const rpc = record?.rpc as { commit?: unknown } | undefined;
  const clientId = record?.client_id;
  const time = recordTime(record);
  if (record?.event !== 'session_end' || rpc?.commit !== true || typeof clientId !== 'string') {
    return;
  }
  const previous = lastWrite.get(clientId);
  if (time !== undefined && (previous === undefined || time > previous)) {
    lastWrite.set(clientId, time);
  }
}

function recordTime(record: Record<string, unknown> | undefined): Date | undefined {
  if (typeof record?.time !== 'string') {
    return undefined;
  }
  const time = new Date(record.time);
  return Number.isNaN(time.getTime()) ? undefined : time;
}
