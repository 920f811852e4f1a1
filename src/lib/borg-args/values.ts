/** Value checks for the `borg serve` flags a client may send. */

/** A logger name suffix; borg enables the `borg.debug.<topic>` logger for it. */
export const DEBUG_TOPIC_PATTERN = /^[A-Za-z0-9_.]{1,128}$/;

/** Maximum `--lock-wait` in seconds (one day); borg itself takes any int. */
export const MAX_LOCK_WAIT_SECONDS = 86_400;

export function isDebugTopic(value: string): boolean {
  return DEBUG_TOPIC_PATTERN.test(value);
}

/** Returns true for 0..86400 in plain digits, though argparse's int() also takes `+5` and `1_0`. */
export function isLockWait(value: string): boolean {
  return /^[0-9]{1,5}$/.test(value) && Number(value) <= MAX_LOCK_WAIT_SECONDS;
}

/** Returns true for 1 to 4 octal digits. borg 1.0 and 1.1 clients send three (`077`). */
export function isUmask(value: string): boolean {
  return /^[0-7]{1,4}$/.test(value);
}

/** Returns true for the non-negative integers borg takes for the upload rate and buffer. */
export function isSmallInteger(value: string): boolean {
  return /^[0-9]{1,9}$/.test(value);
}
