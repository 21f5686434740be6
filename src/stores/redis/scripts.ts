import type { Cluster, Redis } from 'ioredis';

/**
 * The commit: one atomic compare-and-write. Checks, in this order:
 * 1. `c:<owner>` or the version itself already holds the new token: this very commit was applied and its reply lost
 *    with the connection; the client sent it again. Report success again and write nothing (a commit is never
 *    applied twice). Tokens are unique per commit, so either is proof; the version alone still proves it once
 *    `c:<owner>` has expired or was evicted, as long as no other handle committed since.
 * 2. The stored token differs from the caller's: another handle committed first. Write nothing, reply ''.
 * Then it validates every offset and announces the commit on the queue's channel, all before the first write (a
 * script that fails midway keeps what it wrote; subscribers read only once the script has run), applies the segment
 * write, the metadata (whole or appended), removals and quarantines, stores the new token, records it as the
 * handle's last commit and replies the new token.
 *
 * A write at the current end is an APPEND (cost: the bytes pushed); a write before the end rebuilds the string up
 * to the offset, which only the repair of a torn tail does.
 *
 * KEYS: version, meta, lengths, lastCommit, [segment], removed..., (quarantined, quarantine target)...
 * ARGV: expected, new, channel, owner, lastCommitTtlMs, segmentId|'', offset, bytes, metaMode ''|'set'|'append',
 *       metaOffset, metaBytes, removeCount, quarantineCount, removed ids..., quarantined ids...
 */
const COMMIT = `
local v, m, l, c = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local new = ARGV[2]
if redis.call('GET', c) == new then return new end
local current = redis.call('GET', v) or '0'
if current == new then return new end
if current ~= ARGV[1] then return '' end
local k = 5
local seg = ARGV[6]
local wkey, woff, wlen
if seg ~= '' then
  wkey = KEYS[k]
  k = k + 1
  woff = tonumber(ARGV[7])
  wlen = redis.call('STRLEN', wkey)
  if woff > wlen then return redis.error_reply('ERR sluice: write at ' .. woff .. ' past the end (' .. wlen .. ') of segment ' .. seg) end
end
local mode = ARGV[9]
local moff, mlen
if mode == 'append' then
  moff = tonumber(ARGV[10])
  mlen = redis.call('STRLEN', m)
  if moff > mlen then return redis.error_reply('ERR sluice: metadata append at ' .. moff .. ' past its end (' .. mlen .. ')') end
end
-- Announced before the first write: a refused PUBLISH (an ACL without the channel) stops the script, and one that
-- stopped after writing would leave a commit applied that its caller is told failed.
redis.call('PUBLISH', ARGV[3], ARGV[4])
local function put(key, offset, length, bytes)
  if offset == length then
    redis.call('APPEND', key, bytes)
  elseif offset == 0 then
    redis.call('SET', key, bytes)
  else
    redis.call('SET', key, redis.call('GETRANGE', key, 0, offset - 1) .. bytes)
  end
end
if wkey then
  put(wkey, woff, wlen, ARGV[8])
  redis.call('HSET', l, seg, woff + #ARGV[8])
end
if mode == 'set' then
  redis.call('SET', m, ARGV[11])
elseif mode == 'append' then
  put(m, moff, mlen, ARGV[11])
end
local removes, quarantines = tonumber(ARGV[12]), tonumber(ARGV[13])
for i = 1, removes do
  redis.call('DEL', KEYS[k])
  redis.call('HDEL', l, ARGV[13 + i])
  k = k + 1
end
for i = 1, quarantines do
  if redis.call('EXISTS', KEYS[k]) == 1 then redis.call('RENAME', KEYS[k], KEYS[k + 1]) end
  redis.call('HDEL', l, ARGV[13 + removes + i])
  k = k + 2
end
redis.call('SET', v, new)
redis.call('SET', c, new, 'PX', ARGV[5])
return new
`;

/**
 * A consistent snapshot: token, metadata (with a flag telling absent from empty), and for every segment `l` lists,
 * its length as recorded by the last commit that wrote it and its length as stored now (`STRLEN`, 0 for a missing
 * key). The two differ only when the segment was deleted, evicted or cut under the queue: the store then reports
 * the recorded length of the newest as the snapshot's tail, and the core reports what was lost.
 * KEYS: version, meta, lengths, segment key prefix.
 * Reply: [token, meta, hasMeta '1'|'0', id1, recorded1, stored1, id2, recorded2, stored2, ...].
 */
const LOAD = `
local meta = redis.call('GET', KEYS[2])
local out = { redis.call('GET', KEYS[1]) or '0', meta or '', meta and '1' or '0' }
local lengths = redis.call('HGETALL', KEYS[3])
for i = 1, #lengths, 2 do
  out[#out + 1] = lengths[i]
  out[#out + 1] = lengths[i + 1]
  out[#out + 1] = tostring(redis.call('STRLEN', KEYS[4] .. lengths[i]))
end
return out
`;

/** The token of a queue nothing was ever committed to. */
export const INITIAL_TOKEN = '0';

/**
 * The same commit, allowed to run when Redis is at `maxmemory` (Redis 7 script flags): used for commits that write
 * no segment bytes (takes, acks, releases), so that consumers can still drain, and free, a full Redis. Under the
 * default `noeviction` policy every write would be refused, acks included, and nothing could ever free memory.
 */
const COMMIT_WHEN_FULL = `#!lua flags=allow-oom\n${COMMIT}`;

/** The commands the store adds to a client. Versioned names: two sluice versions may share one client. */
export interface ScriptedClient {
  sluiceCommit1(...args: (string | number | Buffer)[]): Promise<string>;
  sluiceCommitWhenFull1(...args: (string | number | Buffer)[]): Promise<string>;
  sluiceLoad1Buffer(...args: string[]): Promise<Buffer[]>;
}

/**
 * Teaches `client` the store's scripts. ioredis sends a script's text once per connection and `EVALSHA` after,
 * so a commit carries its arguments only; in a Cluster, each node's connection learns them the same way.
 */
export function defineScripts(client: Redis | Cluster): ScriptedClient {
  const scripted = client as unknown as Partial<ScriptedClient>;
  if (typeof scripted.sluiceCommit1 !== 'function') client.defineCommand('sluiceCommit1', { lua: COMMIT });
  if (typeof scripted.sluiceCommitWhenFull1 !== 'function') client.defineCommand('sluiceCommitWhenFull1', { lua: COMMIT_WHEN_FULL });
  if (typeof scripted.sluiceLoad1Buffer !== 'function') client.defineCommand('sluiceLoad1', { lua: LOAD });
  return client as unknown as ScriptedClient;
}
