// Guest side of lab/vm-guest.ts: runs in a long-lived lab guest with stdin/stdout on the raw serial
// port ttyS2 (a unix socket on the host). One JSON line per request, one reply per request:
//   {"id":1,"op":"spawn","argv":[…]}  starts a ground-truth target; replies with its first line (ready)
//   {"id":2,"op":"send","line":"start"} one command to the target; replies with the target's reply line
//   {"id":3,"op":"sh","cmd":"…"}       runs a shell command; replies with its status and output
// Replies: {"id":N,"ok":true,"reply":…} or {"id":N,"ok":false,"error":"…"}. Plain JS: no tsx start-up in the guest.
import { spawn, execFile } from 'node:child_process';
import { createInterface } from 'node:readline';

let target; // { child, lines: AsyncIterator<string> }
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

async function nextLine() {
  const { value, done } = await Promise.race([
    target.lines.next(),
    new Promise((_, reject) => setTimeout(() => reject(new Error('target did not reply within 30 s')), 30_000)),
  ]);
  if (done) throw new Error('target exited');
  return JSON.parse(value);
}

async function handle(req) {
  switch (req.op) {
    case 'spawn': {
      if (target) target.child.kill('SIGKILL');
      const child = spawn(req.argv[0], req.argv.slice(1), { cwd: '/project', stdio: ['pipe', 'pipe', 'inherit'] });
      target = { child, lines: createInterface({ input: child.stdout })[Symbol.asyncIterator]() };
      child.on('exit', () => { if (target?.child === child) target = undefined; });
      return { pid: child.pid, ready: await nextLine() };
    }
    case 'send':
      if (!target) throw new Error('no target running');
      target.child.stdin.write(req.line + '\n');
      return nextLine();
    case 'sh':
      return new Promise((resolve) => {
        execFile('/bin/sh', ['-c', req.cmd], { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
          resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
        });
      });
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}

// Requests are served one at a time, in order, so replies match requests.
let queue = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  queue = queue.then(async () => {
    let req;
    try {
      req = JSON.parse(line);
      out({ id: req.id, ok: true, reply: await handle(req) });
    } catch (err) {
      out({ id: req?.id ?? null, ok: false, error: String(err?.message ?? err) });
    }
  });
});
out({ event: 'agent-ready' });
