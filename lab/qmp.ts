/**
 * A minimal QMP client (QEMU Machine Protocol: JSON lines over a unix socket). Commands are
 * answered in order; asynchronous events are kept for whoever asks. When QEMU dies, every
 * pending command fails at once instead of hanging.
 */
import net from 'node:net';

export class QmpError extends Error {
  constructor(message: string, readonly errorClass?: string) {
    super(message);
  }
}

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

interface Pending {
  command: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class QmpClient {
  readonly events: QmpEvent[] = [];
  private buffer = '';
  private readonly pending: Pending[] = [];
  private closedReason: string | undefined;
  private greeting: ((v: unknown) => void) | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err) => this.fail(`QMP socket error: ${err.message}`));
    socket.on('close', () => this.fail('QMP connection closed (QEMU exited?)'));
  }

  /** Connects (retrying while QEMU creates the socket), reads the greeting, enters command mode. */
  static async connect(path: string, timeoutMs = 10_000): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(path, () => resolve(s));
          s.once('error', reject);
        });
        const client = new QmpClient(socket);
        await new Promise((resolve, reject) => {
          client.greeting = resolve;
          setTimeout(() => reject(new QmpError('no QMP greeting')), Math.max(1, deadline - Date.now())).unref();
        });
        await client.execute('qmp_capabilities');
        return client;
      } catch (err) {
        if (Date.now() > deadline) throw new QmpError(`cannot connect to QMP at ${path}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** Runs one command; rejects with QmpError on an error reply, a timeout or QEMU going away. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<T> {
    if (this.closedReason) return Promise.reject(new QmpError(`${command}: ${this.closedReason}`));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        // Replies come in order: a late reply would be taken for the next command's, so give up on the connection.
        this.fail(`${command}: no reply within ${timeoutMs} ms`);
      }, timeoutMs);
      this.pending.push({ command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
    });
  }

  /** Resolves with the first event named `name` (already received or arriving within timeoutMs). */
  async waitEvent(name: string, timeoutMs: number): Promise<QmpEvent | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !this.closed) {
      const e = this.events.find((ev) => ev.event === name);
      if (e) return e;
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.events.find((ev) => ev.event === name);
  }

  close(): void {
    this.fail('QMP connection closed by us');
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if ('QMP' in msg) {
        this.greeting?.(msg);
      } else if ('event' in msg) {
        this.events.push(msg as unknown as QmpEvent);
      } else if ('return' in msg || 'error' in msg) {
        const p = this.pending.shift();
        if (!p) continue;
        clearTimeout(p.timer);
        if ('error' in msg) {
          const e = msg.error as { class?: string; desc?: string };
          p.reject(new QmpError(`${p.command}: ${e.desc ?? 'error'}`, e.class));
        } else {
          p.resolve(msg.return);
        }
      }
    }
  }

  private fail(reason: string): void {
    this.closedReason ??= reason;
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(new QmpError(`${p.command}: ${reason}`));
    }
    if (!this.socket.destroyed) this.socket.destroy();
  }
}
