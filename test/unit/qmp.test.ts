import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { calcDirtyRate } from '../../lab/migrate.js';
import { QmpClient } from '../../lab/qmp.js';

// A fake QEMU on a unix socket: greets, then answers each command with `reply(cmd)`; 'crash' closes the socket.
type Reply = Record<string, unknown> | 'crash' | 'silence';
let server: net.Server | undefined;
let client: QmpClient | undefined;
afterEach(() => {
  client?.close();
  server?.close();
});

async function fakeQemu(reply: (cmd: string) => Reply): Promise<string> {
  const sock = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dt-qmp-')), 'qmp');
  server = net.createServer((c) => {
    c.write(JSON.stringify({ QMP: { version: {}, capabilities: [] } }) + '\n');
    let buf = '';
    c.on('data', (d) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const { execute } = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        const r = execute === 'qmp_capabilities' ? { return: {} } : reply(execute);
        if (r === 'crash') return void c.destroy();
        if (r !== 'silence') c.write(JSON.stringify({ event: 'NOISE', data: {} }) + '\n' + JSON.stringify(r) + '\n');
      }
    });
  });
  await new Promise<void>((r) => server!.listen(sock, r));
  return sock;
}

describe('QmpClient', () => {
  it('answers commands in order, keeps events apart, and turns error replies into QmpError with the class', async () => {
    client = await QmpClient.connect(await fakeQemu((cmd) => (cmd === 'bad' ? { error: { class: 'GenericError', desc: 'no such thing' } } : { return: { cmd } })));
    expect(await client.execute('query-status')).toEqual({ cmd: 'query-status' });
    await expect(client.execute('bad')).rejects.toMatchObject({ message: 'bad: no such thing', errorClass: 'GenericError' });
    expect(client.events.map((e) => e.event)).toEqual(['NOISE', 'NOISE', 'NOISE']); // one before each reply
  });

  it('fails pending and later commands at once when QEMU goes away, instead of hanging', async () => {
    client = await QmpClient.connect(await fakeQemu(() => 'crash'));
    await expect(client.execute('migrate')).rejects.toThrow(/migrate: QMP connection closed \(QEMU exited\?\)/);
    await expect(client.execute('query-migrate')).rejects.toThrow(/closed/);
  });

  it('gives up on a command QEMU never answers', async () => {
    client = await QmpClient.connect(await fakeQemu(() => 'silence'));
    await expect(client.execute('query-migrate', undefined, 300)).rejects.toThrow(/no reply within 300 ms/);
  });
});

describe('calcDirtyRate', () => {
  it('reports the measured rate in page-sampling mode', async () => {
    const seen: string[] = [];
    client = await QmpClient.connect(await fakeQemu((cmd) => {
      seen.push(cmd);
      return cmd === 'query-dirty-rate' ? { return: { status: 'measured', 'dirty-rate': 42 } } : { return: {} };
    }));
    expect(await calcDirtyRate(client, 0)).toEqual({ ok: true, dirtyRateMiBs: 42 });
    expect(seen).toEqual(['calc-dirty-rate', 'query-dirty-rate']);
  });

  it('a QEMU crash during the measurement is a result with a reason, not a hang', async () => {
    client = await QmpClient.connect(await fakeQemu((cmd) => (cmd === 'query-dirty-rate' ? 'crash' : { return: {} })));
    const r = await calcDirtyRate(client, 0);
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/query-dirty-rate: QMP connection closed/);
  });
});
