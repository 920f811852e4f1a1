import { collapseMessage } from './text.js';

/** Shows which check runs and for how long; a no-op when stderr is not a terminal. */
export interface ProgressReporter {
  /** True when borg should be asked for `--progress` lines. */
  readonly live: boolean;
  start(label: string): void;
  update(text: string): void;
  /** Clears the live line and prints `line` for the finished check. */
  finish(line: string): void;
}

/** The part of a terminal stream the reporter uses; tests pass a plain object. */
export interface TextStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const REFRESH_MS = 1000;

export function createProgressReporter(stream: TextStream): ProgressReporter {
  return stream.isTTY === true ? new TerminalProgress(stream) : quietProgress;
}

const quietProgress: ProgressReporter = {
  live: false,
  start() {},
  update() {},
  finish() {},
};

class TerminalProgress implements ProgressReporter {
  readonly live = true;
  private label = '';
  private text = '';
  private started = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly stream: TextStream) {}

  start(label: string): void {
    this.label = label;
    this.text = '';
    this.started = Date.now();
    this.timer = setInterval(() => this.draw(), REFRESH_MS);
    this.timer.unref();
    this.draw();
  }

  update(text: string): void {
    this.text = collapseMessage(text);
    this.draw();
  }

  finish(line: string): void {
    clearInterval(this.timer);
    this.stream.write(`\r\x1b[2K${line}\n`);
  }

  private draw(): void {
    const width = this.stream.columns ?? 80;
    const line = `${this.label}  ${formatElapsed(Date.now() - this.started)}  ${this.text}`;
    this.stream.write(`\r\x1b[2K${line.slice(0, width - 1)}`);
  }
}

/** Formats milliseconds as `h:mm:ss`. */
export function formatElapsed(ms: number): string {
  const total = Math.floor(ms / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = String(Math.floor((total % 3600) / 60)).padStart(2, '0');
  const seconds = String(total % 60).padStart(2, '0');
  return `${hours}:${minutes}:${seconds}`;
}
