// Kills enqueuing and delivering processes of one outbox (on a FileStore, or a RedisStore) with SIGKILL at random moments, against a
// server that fails, resets, stalls and is slow, then delivers what is left and checks that every enqueue that had
// resolved reached the server whole with a 2xx, nothing went to dead, and no task acked ('sent') was sent again.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox } from '../../dist/index.js';
import { openStore, outboxOptions } from './outbox-setup.mjs';

const child = new URL('./outbox-child.mjs', import.meta.url).pathname;

/**
 * A server that answers each request by a draw: mostly 200, else 503, 429 with a Retry-After of 0, a reset, a 200
 * late, or a 200 whose body stalls past the outbox's time limit; a batch, one time in ten, 413 (too large). `calm` turns it into one that answers 200 at once.
 * It checks each body names the task of its Idempotency-Key, and records every request.
 */
function faultyServer(problems) {
  const requests = [];
  let calm = false;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const key = String(req.headers['idempotency-key']);
      const at = performance.now();
      let ns;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString());
        // A batch carries its tasks' bodies in an array under a key of its own; a task alone, its body under its id.
        const bodies = req.url === '/batch' ? body : [body];
        if (req.url !== '/batch' && `t${body.n}` !== key) throw new Error('not the body of its key');
        for (const b of bodies) if (typeof b.pad !== 'string' || b.pad.length !== (b.n % 10 === 7 ? 70_000 : 20)) throw new Error(`task ${b.n}'s body is not whole`);
        ns = bodies.map((b) => b.n);
      } catch (error) {
        problems.push(`request ${key} came with a body that is not its own (${error.message})`);
        res.writeHead(400).end();
        return;
      }
      const draw = calm ? 0 : Math.random();
      const record = (status) => ns.forEach((n) => requests.push({ n, at, status }));
      // A server whose body limit is under the outbox's batch size: the batch goes again in halves.
      if (ns.length > 1 && draw > 0.9) return record(413), res.writeHead(413).end();
      if (draw < 0.65) return record(200), res.end('ok');
      if (draw < 0.75) return record(503), res.writeHead(503).end();
      if (draw < 0.8) return record(429), res.writeHead(429, { 'retry-after': '0' }).end();
      if (draw < 0.87) return record('reset'), req.socket.destroy();
      if (draw < 0.95) return setTimeout(() => (record(200), res.end('ok')), 20 + Math.random() * 200);
      // Headers, then a body that never ends: the outbox's time limit makes it a retry, never 'sent'.
      record('stall');
      res.writeHead(200, { 'content-length': '10' });
      res.write('ok');
      setTimeout(() => req.socket.destroy(), 5_000);
    });
  });
  return {
    requests,
    calm: () => (calm = true),
    listen: () => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`))),
    close: () => (server.closeAllConnections(), new Promise((resolve) => server.close(resolve))),
  };
}

/**
 * Runs a child until killed `afterMs` after it said 'ready' (or after its start, `early`; or after its first line
 * starting with `armOn`); resolves with its lines.
 */
function runAndKill(args, afterMs, early, onLine, armOn = 'ready') {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let armed = early;
    if (early) setTimeout(() => proc.kill('SIGKILL'), afterMs);
    proc.stdout.on('data', (d) => {
      const lines = (out + d).split('\n');
      out = lines.pop();
      for (const line of lines) {
        if (!armed && line.startsWith(armOn)) (armed = true), setTimeout(() => proc.kill('SIGKILL'), afterMs);
        if (line !== 'ready') onLine(line);
      }
    });
    proc.stderr.on('data', (d) => (err += d));
    proc.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`a ${args[0]} process exited with ${code} before it was killed: ${err}`));
      else resolve();
    });
  });
}

/**
 * `kills` rounds of an enqueuer and one or two deliverers of an outbox set up for `mode` (see `outboxOptions`), each
 * killed at a random moment. Then the outbox is opened
 * here, the server made calm, and everything left is delivered. On a FileStore, or on the redis-server at `redisUrl`
 * (under a key prefix of its own). Throws on the first broken rule; returns figures.
 */
export async function crashTest({ kills, mode = 'group', redisUrl, maxMs = 600, log = () => {} }) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-outbox-crash-'));
  const where = redisUrl ? `${redisUrl}#sluice-crash-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}:` : dir;
  const problems = [];
  const server = faultyServer(problems);
  const url = await server.listen();
  const enqueued = new Set();
  const started = new Set();
  /** When this process heard each task's 'sent' (its ack committed): no request for it may come after. */
  const sentAt = new Map();
  const dead = [];
  let next = 0;
  let killsDone = 0;
  const onLine = (line) => {
    const [word, value, reason] = line.split(' ');
    if (word === 'enqueued') enqueued.add(Number(value));
    if (word === 'sent' && !sentAt.has(Number(value))) sentAt.set(Number(value), performance.now());
    if (word === 'dead') dead.push(`${value} (${reason})`);
  };
  try {
    while (killsDone < kills) {
      const early = () => killsDone > 0 && Math.random() < 0.2;
      const afterMs = () => Math.floor(Math.random() * maxMs);
      const from = next;
      // Every number this enqueuer may use is past those of the ones before.
      next += 100_000;
      for (let v = from; v < from + 100_000; v += 1) started.add(v);
      // The first enqueuer lives until one of its enqueues resolved: otherwise a loaded machine can kill every
      // enqueuer before its first, and the run proves nothing.
      const armOn = killsDone === 0 ? 'enqueued ' : 'ready';
      const runs = [runAndKill(['enqueue', where, url, mode, String(from)], afterMs(), early(), onLine, armOn)];
      for (let d = killsDone % 3 === 2 ? 2 : 1; d > 0; d--) runs.push(runAndKill(['deliver', where, url, mode], 200 + 2 * afterMs(), early(), onLine));
      await Promise.all(runs);
      killsDone += runs.length;
      log(`kill ${killsDone}: ${enqueued.size} enqueued, ${sentAt.size} said sent, ${server.requests.length} requests`);
    }
    server.calm();
    const store = await openStore(where);
    const outbox = await Outbox.open(outboxOptions(mode, url, store));
    outbox.addEventListener('dead', (e) => dead.push(`${e.detail.task.id} (${e.detail.reason})`));
    // What dead processes held is theirs until the store sees them gone (FileStore at once, RedisStore once their
    // beat is 1 s old); what waits out a short retry delay, a moment.
    // Up to 30 s: on a loaded machine a dead owner's leases (RedisStore: its beat 1 s old) take longer to go back.
    for (const until = Date.now() + 30_000; Date.now() < until && (await outbox.size()) > 0; ) {
      await outbox.flush();
      if ((await outbox.size()) > 0) await new Promise((r) => setTimeout(r, 100));
    }
    const left = await outbox.size();
    const letters = await outbox.dead.list();
    await outbox.close();
    await store.close?.();
    if (left > 0) problems.push(`${left} tasks still pending after the final delivery`);
    if (letters.length > 0 || dead.length > 0) problems.push(`tasks went to dead: ${[...dead, ...letters.map((l) => l.task.id)].slice(0, 10).join(', ')}`);
    const accepted = new Map();
    for (const r of server.requests) {
      if (!started.has(r.n)) problems.push(`the server got task ${r.n}, which no process enqueued`);
      if (r.status === 200) accepted.set(r.n, (accepted.get(r.n) ?? 0) + 1);
      const sent = sentAt.get(r.n);
      if (sent !== undefined && r.at > sent) problems.push(`task ${r.n} was sent again after its ack ('sent')`);
    }
    for (const n of enqueued) if (!accepted.has(n)) problems.push(`lost: task ${n} was enqueued (resolved) and never reached the server with a 200`);
    if (problems.length > 0) throw new Error(`${problems.length} broken rules, the first: ${problems.slice(0, 5).join('; ')}`);
    const twice = [...accepted.values()].filter((count) => count > 1).length;
    return { kills: killsDone, enqueued: enqueued.size, requests: server.requests.length, delivered: accepted.size, twice };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A redis-server of its own on a free port, without persistence (the stress kills clients, not the server). */
async function startRedis() {
  const port = await new Promise((resolve) => {
    const probe = createNetServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address();
      probe.close(() => resolve(free));
    });
  });
  const proc = spawn(process.env.SLUICE_REDIS_SERVER ?? 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.stdout.on('data', (d) => String(d).includes('Ready to accept connections') && resolve());
  });
  proc.stdout.resume();
  return { url: `redis://127.0.0.1:${port}`, stop: () => proc.kill() };
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const kills = Number(process.argv[2] ?? 100);
  const mode = process.argv[3] ?? 'group';
  const redis = process.argv[4] === 'redis' ? await startRedis() : undefined;
  const begun = Date.now();
  try {
    const r = await crashTest({ kills, mode, redisUrl: redis?.url, log: (line) => process.stdout.write(`\r${line}   `) });
    console.log(
      `\n${r.kills} SIGKILLs ('${mode}', ${redis ? 'RedisStore' : 'FileStore'}): ${r.enqueued} enqueues resolved, all delivered with a 200 (${r.twice} twice, as at-least-once allows: killed between response and ack), ${r.requests} requests, nothing lost, dead or sent after its ack; ${((Date.now() - begun) / 1000).toFixed(1)} s`,
    );
  } finally {
    redis?.stop();
  }
}
