/**
 * Parser for the guest's ttyS1 stream: the command's raw output interleaved with marker
 * lines `\n@@DTLAB:<nonce>:<KIND> <data>\n` written by lab/init.sh. The nonce is random per
 * run, so the command's own output cannot fake a marker. Output bytes are passed through
 * unchanged; the newline in front of a marker belongs to the marker, so output that does
 * not end in a newline stays that way.
 */
export interface ChannelEvents {
  output(chunk: Buffer): void;
  /** Guest is up and about to run the command; `thp` is transparent_hugepage/enabled. */
  up(thp: string): void;
  exit(status: number): void;
  missing(path: string): void;
  /** Base64 tar.gz of the changed files under the --collect paths (empty if none), their
   *  number, and busybox tar's exit status. */
  collected(base64: string, files: number, tarStatus: number): void;
  done(): void;
}

export class GuestChannel {
  private pending: Buffer = Buffer.alloc(0);
  private collecting: { files: number; chunks: Buffer[] } | undefined;
  private readonly prefix: Buffer;

  constructor(nonce: string, private readonly events: ChannelEvents) {
    this.prefix = Buffer.from(`\n@@DTLAB:${nonce}:`);
  }

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      const at = this.pending.indexOf(this.prefix);
      if (at < 0) {
        // Hold back only a tail that could be the start of a marker.
        const keep = this.partialPrefixLength();
        this.emit(this.pending.subarray(0, this.pending.length - keep));
        this.pending = this.pending.subarray(this.pending.length - keep);
        return;
      }
      const end = this.pending.indexOf(0x0a, at + this.prefix.length);
      this.emit(this.pending.subarray(0, at));
      this.pending = this.pending.subarray(at);
      if (end < 0) return; // marker line not complete yet
      const line = this.pending.subarray(this.prefix.length, end - at).toString('utf8');
      this.pending = this.pending.subarray(end - at + 1);
      this.marker(line);
    }
  }

  private partialPrefixLength(): number {
    const max = Math.min(this.prefix.length - 1, this.pending.length);
    for (let n = max; n > 0; n--) {
      if (this.pending.subarray(this.pending.length - n).equals(this.prefix.subarray(0, n))) return n;
    }
    return 0;
  }

  private emit(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.collecting) this.collecting.chunks.push(Buffer.from(bytes));
    else this.events.output(Buffer.from(bytes));
  }

  private marker(line: string): void {
    const space = line.indexOf(' ');
    const kind = space < 0 ? line : line.slice(0, space);
    const data = space < 0 ? '' : line.slice(space + 1);
    switch (kind) {
      case 'UP':
        this.events.up(data.replace(/^thp=/, ''));
        break;
      case 'EXIT':
        this.events.exit(Number(data));
        break;
      case 'MISSING':
        this.events.missing(data);
        break;
      case 'COLLECT-BEGIN':
        this.collecting = { files: Number(data), chunks: [] };
        break;
      case 'COLLECT-END':
        this.events.collected(Buffer.concat(this.collecting?.chunks ?? []).toString('latin1'), this.collecting?.files ?? 0, Number(data));
        this.collecting = undefined;
        break;
      case 'DONE':
        this.events.done();
        break;
    }
  }
}
