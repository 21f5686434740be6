// The field-notes demo's server: serves the app (built by `npm run demo` into demo/build/), stores the notes and
// photos it receives (in memory), shows them at /received with how many requests came per Idempotency-Key, and
// fails on purpose when told to (/api/fault), so that the outbox's retries can be watched.
//
// Run with: npm run demo (builds first). `node demo/server.mjs` serves an existing build; PORT picks the port.
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.webmanifest': 'application/manifest+json',
  '.png': 'image/png',
};

/** How the server answers the app's requests, in the order the page shows them; /api/fault and /received always work. */
export const FAULTS = new Map([
  ['ok', 'answers normally'],
  ['500', 'answers 500 Internal Server Error'],
  ['429', 'answers 429 Too Many Requests with Retry-After'],
  ['slow', 'answers after a few seconds'],
  ['reject', 'answers 422 Unprocessable Content (the outbox gives up: dead letters)'],
  ['down', 'drops every connection of the app (the page, its files and the API): as if the server were gone'],
]);

const MAX_BODY = 8 << 20;

/**
 * Starts the demo server on 127.0.0.1.
 * @param {{ root: string, port?: number, retryAfterSeconds?: number, slowMs?: number }} options
 *   root: the built app; port: 0 (default) for a free one
 */
export async function startDemoServer({ root, port = 0, retryAfterSeconds = 3, slowMs = 3000 }) {
  const state = {
    fault: 'ok',
    /** Notes by their id, in the order they first arrived. */
    notes: new Map(),
    /** What arrived, in order: { kind: 'note' | 'photo', note, key, at }. */
    arrivals: [],
    /** Per Idempotency-Key: requests accepted (the first stores, the others are duplicates) and refused (statuses). */
    keys: new Map(),
  };
  const sockets = new Set();

  const server = createServer(async (req, res) => {
    try {
      await handle(req, res);
    } catch (error) {
      if (!res.headersSent) json(res, 500, { error: String(error?.message ?? error) });
      else res.destroy();
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req, res) {
    const url = new URL(req.url, 'http://localhost');
    const path = url.pathname;
    // Always up: the switch itself, and the view of what arrived (the operator's access, not the app's).
    if (path === '/api/fault') return fault(req, res);
    if (path === '/received') return html(res, receivedPage(state));
    if (path === '/api/received') return json(res, 200, receivedJson(state));
    if (path.startsWith('/api/photos/')) return photo(res, decodeURIComponent(path.slice('/api/photos/'.length)));
    if (state.fault === 'down') return void req.socket.destroy();
    if (path.startsWith('/api/notes')) return api(req, res, path);
    return file(res, path);
  }

  async function fault(req, res) {
    if (req.method === 'POST') {
      let mode;
      try {
        ({ mode } = JSON.parse((await body(req)).toString() || '{}') ?? {});
      } catch {
        return json(res, 400, { error: 'the body is not JSON: send {"mode": "<mode>"}' });
      }
      if (!FAULTS.has(mode)) return json(res, 400, { error: `mode must be one of ${[...FAULTS.keys()].join(', ')}` });
      state.fault = mode;
    }
    json(res, 200, { mode: state.fault, modes: [...FAULTS].map(([name, text]) => ({ name, text })), retryAfterSeconds });
  }

  async function api(req, res, path) {
    const key = req.headers['idempotency-key'];
    const data = await body(req);
    const count = counts(key);
    if (state.fault === 'slow') await new Promise((resolve) => setTimeout(resolve, slowMs));
    const refuse = { 500: [500, {}], 429: [429, { 'retry-after': String(retryAfterSeconds) }], reject: [422, {}] }[state.fault];
    if (refuse) {
      count.refused.push(refuse[0]);
      return json(res, refuse[0], { error: `the server was told to fail (${state.fault})` }, refuse[1]);
    }
    if (!key) return json(res, 400, { error: 'an Idempotency-Key header is required' });
    const photoPath = path.match(/^\/api\/notes\/([^/]+)\/photo$/);
    if (req.method === 'POST' && path === '/api/notes') return addNote(res, key, count, data);
    if (req.method === 'PUT' && photoPath) return addPhoto(req, res, key, count, decodeURIComponent(photoPath[1]), data);
    json(res, 404, { error: `no ${req.method} ${path}` });
  }

  function addNote(res, key, count, data) {
    let note;
    try {
      note = JSON.parse(data.toString());
    } catch {
      return json(res, 400, { error: 'the body is not JSON' });
    }
    if (typeof note?.id !== 'string' || typeof note.text !== 'string') return json(res, 400, { error: 'a note needs an id and a text' });
    count.accepted++;
    // A repeat of a request already stored (same Idempotency-Key) is answered as the first was, and stored once.
    if (count.accepted === 1) {
      const known = state.notes.get(note.id);
      // The same note under another key is a duplicate too (it was enqueued twice): kept in view, never overwritten.
      if (known) known.keys.push(key);
      else state.notes.set(note.id, { id: note.id, text: note.text, createdAt: note.createdAt, key, keys: [key], receivedAt: Date.now() });
      state.arrivals.push({ kind: 'note', note: note.id, key, at: Date.now() });
    }
    json(res, count.accepted === 1 ? 201 : 200, { id: note.id });
  }

  function addPhoto(req, res, key, count, id, data) {
    const note = state.notes.get(id);
    if (!note) return json(res, 404, { error: `no note ${id}: its photo cannot be stored` });
    const type = req.headers['content-type'] ?? '';
    if (!type.startsWith('image/')) return json(res, 415, { error: 'a photo must be an image/* body' });
    count.accepted++;
    if (count.accepted === 1) {
      note.photo = { type, bytes: data, key, receivedAt: Date.now() };
      state.arrivals.push({ kind: 'photo', note: id, key, at: Date.now() });
    }
    json(res, count.accepted === 1 ? 201 : 200, { id, bytes: data.length });
  }

  function counts(key) {
    const name = key ?? '(none)';
    if (!state.keys.has(name)) state.keys.set(name, { accepted: 0, refused: [] });
    return state.keys.get(name);
  }

  function photo(res, id) {
    const found = state.notes.get(id)?.photo;
    if (!found) return json(res, 404, { error: `no photo for ${id}` });
    res.writeHead(200, { 'content-type': found.type, 'cache-control': 'no-store' }).end(found.bytes);
  }

  async function file(res, path) {
    const name = path === '/' ? 'index.html' : path.slice(1);
    const full = normalize(join(root, name));
    let data;
    try {
      if (!full.startsWith(normalize(root))) throw new Error('outside the app');
      data = await readFile(full);
    } catch {
      return json(res, 404, { error: `no ${path}` });
    }
    // The service worker decides what is cached; the HTTP cache must not keep an old worker or shell.
    res.writeHead(200, { 'content-type': TYPES[extname(name)] ?? 'application/octet-stream', 'cache-control': 'no-cache' }).end(data);
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    state,
    setFault(mode) {
      if (!FAULTS.has(mode)) throw new Error(`unknown fault ${mode}`);
      state.fault = mode;
    },
    received: () => receivedJson(state),
    dropConnections() {
      for (const socket of sockets) socket.destroy();
    },
    close() {
      this.dropConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

function body(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) req.destroy(new Error('body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function json(res, status, value, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(value));
}

function html(res, text) {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(text);
}

function receivedJson(state) {
  return {
    fault: state.fault,
    arrivals: state.arrivals.map(({ kind, note, key }) => ({ kind, note, key })),
    notes: [...state.notes.values()].map((n) => ({
      id: n.id,
      text: n.text,
      key: n.key,
      keys: n.keys,
      ...(n.photo && { photo: { type: n.photo.type, bytes: n.photo.bytes.length, key: n.photo.key } }),
    })),
    keys: Object.fromEntries(state.keys),
  };
}

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function receivedPage(state) {
  const count = (key) => {
    const c = state.keys.get(key) ?? { accepted: 0, refused: [] };
    const dup = c.accepted > 1 ? ` <strong class="dup">${c.accepted - 1} duplicate${c.accepted > 2 ? 's' : ''}</strong>` : '';
    const refused = c.refused.length ? `, refused ${c.refused.length}× (${c.refused.join(', ')})` : '';
    return `accepted ${c.accepted}×${dup}${refused}`;
  };
  const keys = (n) => {
    const again = n.keys.length > 1 ? `<br><strong class="dup">arrived under ${n.keys.length} keys</strong>` : '';
    return n.keys.map((key) => `<br><code>${escape(key)}</code>: ${count(key)}`).join('') + again;
  };
  const stored = new Set([...state.notes.values()].flatMap((n) => [...n.keys, ...(n.photo ? [n.photo.key] : [])]));
  const refusedOnly = [...state.keys].filter(([key]) => !stored.has(key));
  const refusals = refusedOnly.length
    ? `<p>Refused, and not stored (yet): ${refusedOnly.map(([key]) => `<code>${escape(key)}</code>: ${count(key)}`).join('; ')}.</p>`
    : '';
  const rows = [...state.notes.values()]
    .map(
      (n, i) => `<tr><td>${i + 1}</td><td>${escape(n.text)}${keys(n)}</td>
      <td>${n.photo ? `<img src="/api/photos/${encodeURIComponent(n.id)}" alt=""><br><code>${escape(n.photo.key)}</code>: ${count(n.photo.key)}` : '–'}</td>
      <td>${new Date(n.receivedAt).toLocaleTimeString()}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta http-equiv="refresh" content="2"><title>What arrived · field notes server</title>
<style>body{font:15px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d2a26}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #d5ddd9;padding:.4rem;text-align:left;vertical-align:top}img{max-width:8rem;max-height:6rem}
code{font-size:.8em;color:#55625d}.dup{color:#a3361b}</style>
<h1>What arrived</h1>
<p>The server is <strong>${escape(state.fault)}</strong>: it ${escape(FAULTS.get(state.fault))}. ${state.notes.size} notes,
${state.arrivals.filter((a) => a.kind === 'photo').length} photos. Each row counts the requests that came with its
Idempotency-Key: a duplicate would show here. This page refreshes itself.</p>
${refusals}
<table><tr><th>#</th><th>note</th><th>photo</th><th>arrived</th></tr>
${rows || '<tr><td colspan="4">Nothing yet.</td></tr>'}
</table></html>`;
}

// As a script: serve demo/build (or DEMO_ROOT) and say where.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = process.env.DEMO_ROOT ?? fileURLToPath(new URL('./build/', import.meta.url));
  if (!existsSync(join(root, 'index.html'))) {
    console.error(`There is no built app in ${root}: run \`npm run demo\`, which builds it first.`);
    process.exit(1);
  }
  const server = await startDemoServer({ root, port: Number(process.env.PORT ?? 0) });
  console.log(`Field notes: ${server.url}/`);
  console.log(`What the server received: ${server.url}/received`);
  console.log('Serving until stopped (Ctrl-C).');
  const stop = () => server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
