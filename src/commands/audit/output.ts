/**
 * Buffers output lines and writes them in large chunks, waiting for the stream to drain.
 * A closed pipe (`| head`) ends the output quietly: `write` then returns false.
 */
export class LineOutput {
  private buffer: string[] = [];
  private size = 0;
  private closed = false;

  constructor(private readonly stream: NodeJS.WritableStream = process.stdout) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') {
        throw error;
      }
      this.closed = true;
    });
  }

  /** Queues one line; returns false once the reader has gone away. */
  async write(line: string): Promise<boolean> {
    if (this.closed) {
      return false;
    }
    this.buffer.push(line);
    this.size += line.length + 1;
    if (this.size >= 64 * 1024) {
      await this.flush();
    }
    return !this.closed;
  }

  async flush(): Promise<void> {
    if (this.buffer.length === 0 || this.closed) {
      return;
    }
    const text = `${this.buffer.join('\n')}\n`;
    this.buffer = [];
    this.size = 0;
    if (!this.stream.write(text)) {
      await new Promise<void>((resolve) => {
        this.stream.once('drain', resolve);
        this.stream.once('error', () => resolve());
      });
    }
  }
}
