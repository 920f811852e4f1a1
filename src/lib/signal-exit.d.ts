// Types for signal-exit 3, which ships none: the function that registers an exit handler.
declare module 'signal-exit' {
  /**
   * Calls `callback` when the process exits, also on SIGINT, SIGTERM, SIGHUP and the other
   * signals that end it, and returns a function that removes the handler again.
   */
  export default function onExit(
    callback: (code: number | null, signal: string | null) => void,
    options?: { alwaysLast?: boolean },
  ): () => void;
}
