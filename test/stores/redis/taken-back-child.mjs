// One delivering process for taken-back.test.ts: it opens the outbox from the built package (SLUICE_TEST_DIST, else
// ./dist), names itself in an `x-by` header on every request, and delivers until killed.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const { who, url, prefix, baseUrl } = JSON.parse(process.argv[2]);
const dist = pathToFileURL(resolve(process.env.SLUICE_TEST_DIST ?? 'dist')).href;
const { Outbox } = await import(`${dist}/index.js`);
const { RedisStore } = await import(`${dist}/redis.js`);
const store = new RedisStore({ url, prefix, ownerTtlMs: 1500, onWarning: () => undefined });
const outbox = await Outbox.open({
  name: 'o',
  store,
  baseUrl,
  concurrency: 4,
  timeoutMs: 3000,
  retry: { initialDelayMs: 20, maxDelayMs: 200 },
  fetch: (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('x-by', who);
    return fetch(input, { ...init, headers });
  },
});
outbox.start();
