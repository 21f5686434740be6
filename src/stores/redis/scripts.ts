import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { ALLOWED } from './commit-checks.js';

/**
 * The commit: one atomic compare-and-write. Checks, in this order:
 * 1. `c:<owner>` or the version itself already holds the new token: this very commit was applied and its reply lost
 *    with the connection; the client sent it again. Report success again and write nothing (a commit is never
 *    applied twice). Tokens are unique per commit, so either is proof; the version alone still proves it once
 *    `c:<owner>` has expired or was evicted, as long as no other handle committed since.
 * 2. The stored token differs from the caller's: another handle committed first. Write nothing, reply ''.
 *    A caller that lost races in a row (ARGV[15] '1') takes the queue's turn (`t`, for TURN_MS) unless another holds
 *    it: a handle whose every commit must read first (a take, an ack, a repair) never wins against one that pushes
 *    in a loop, each push on the token its last one made.
 * 3. Another handle holds the turn: write nothing, reply 'turn' (the caller waits a moment, then plans again). The
 *    holder's commit ends the turn.
 * 4. Another handle judged this owner gone (its tombstone, see GONE): its leases may be in other hands, and any it
 *    took now would be taken back by the next take anywhere. Write nothing, reply 'gone': the handle goes on under a
 *    new owner and plans again. A heartbeat that expired unjudged is made again, so that no judgement can fall
 *    between this commit and the next beat and take back what it leased.
 * 5. The write would go over bytes of a segment the list does not name (a history whose list and token were lost):
 *    write nothing, reply 'relist' (the caller lists the segments again at its next load, see RELIST).
 * Then it validates every offset, that the user may run each command it writes with, and announces the commit on the
 * queue's channel, all before the first write (a script that fails midway keeps what it wrote; subscribers read only
 * once the script has run), applies the segment write, the metadata (whole or appended), removals and quarantines,
 * stores the new token, records it as the handle's last commit and replies the new token. A write at the current end
 * is an APPEND (cost: the bytes pushed); one before the end rebuilds the string up to the offset (a torn tail's repair).
 *
 * KEYS: version, meta, lengths, lastCommit, heartbeat, tombstone, turn, [segment], removed..., (quarantined, target)...
 * ARGV: expected, new, channel, owner, lastCommitTtlMs, segmentId|'', offset, bytes, metaMode ''|'set'|'append',
 *       metaOffset, metaBytes, removeCount, quarantineCount, ownerTtlMs, claim '0'|'1', removed ids..., quarantined ids...
 */
/**
 * How long a turn taken lasts at most (ms): long enough for its holder to read the queue and commit, short enough that
 * a holder that died, or whose operation found nothing to commit, holds the others back only a moment.
 */
export const TURN_MS = 150;

const COMMIT = `
local v, m, l, c, turn = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[7]
local new = ARGV[2]
if redis.call('GET', c) == new then return new end
local current = redis.call('GET', v) or '0'
if current == new then return new end
local holder = redis.call('GET', turn)
if current ~= ARGV[1] then
  if ARGV[15] == '1' and (not holder or holder == ARGV[4]) then redis.call('SET', turn, ARGV[4], 'PX', ${TURN_MS}) end
  return ''
end
-- A queue with a history and neither a list of segments nor metadata lost both (evicted): a commit on the view its
-- caller holds would list its own segment alone, the others then lost unsaid. Taken for a lost race: the caller
-- loads, and the load lists the segments again (see RELIST).
if current ~= '0' and redis.call('EXISTS', l) == 0 and redis.call('EXISTS', m) == 0 then return '' end
if holder and holder ~= ARGV[4] then return 'turn' end
if redis.call('EXISTS', KEYS[6]) == 1 then return 'gone' end
if redis.call('EXISTS', KEYS[5]) == 0 then redis.call('SET', KEYS[5], '1', 'PX', ARGV[14]) end
local k = 8
local seg = ARGV[6]
local wkey, woff, wlen
if seg ~= '' then
  wkey = KEYS[k]
  k = k + 1
  woff = tonumber(ARGV[7])
  wlen = redis.call('STRLEN', wkey)
  if woff > wlen then return redis.error_reply('ERR sluice: write at ' .. woff .. ' past the end (' .. wlen .. ') of segment ' .. seg) end
  -- Bytes in a segment the list does not name are a history's whose list and token were lost (evicted): written
  -- over, its items would be lost unsaid. The caller lists the segments again (see RELIST), then plans again.
  if woff < wlen and redis.call('HEXISTS', l, seg) == 0 then return 'relist' end
end
local mode = ARGV[9]
local moff, mlen
if mode == 'append' then
  moff = tonumber(ARGV[10])
  mlen = redis.call('STRLEN', m)
  -- The metadata alone lost (evicted, expired, deleted by another app): a lost race, as above; the load finds it missing.
  if mlen == 0 and redis.call('EXISTS', m) == 0 then return '' end
  if moff > mlen then return redis.error_reply('ERR sluice: metadata append at ' .. moff .. ' past its end (' .. mlen .. ')') end
end
${ALLOWED}
-- Announced before the first write: a refused PUBLISH (an ACL without the channel) stops the script before it writes.
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
  redis.call('HDEL', l, ARGV[15 + i])
  k = k + 1
end
for i = 1, quarantines do
  if redis.call('EXISTS', KEYS[k]) == 1 then redis.call('RENAME', KEYS[k], KEYS[k + 1]) end
  redis.call('HDEL', l, ARGV[15 + removes + i])
  k = k + 2
end
redis.call('SET', v, new)
redis.call('SET', c, new, 'PX', ARGV[5])
if holder then redis.call('DEL', turn) end
return new
`;

/** Lua: `info(section)`, or '' where INFO is refused or renamed: no run_id nor uptime (GONE judges nobody), no replication id. */
const INFO = `local function info(section) local ok, text = pcall(redis.call, 'INFO', section) return ok and text or '' end`;

/**
 * A consistent snapshot: token, metadata (with a flag telling absent from empty), the `run_id` of the server that
 * answered, and for every segment `l` lists, its length as recorded by the last commit that wrote it and its length
 * as stored now (`STRLEN`, 0 for a missing key). The two lengths differ only when the segment was deleted, evicted or
 * cut under the queue: the store then reports the recorded length of the newest as the snapshot's tail, and the core
 * reports what was lost. The run_id is another whenever another process answers: a server restarted (perhaps from an
 * older snapshot), a replica promoted (perhaps behind its primary), a Cluster node failed over, all of which the
 * client may live through without a reconnection of its own; the handle then reads the queue again whole.
 * KEYS: version, meta, lengths, segment key prefix.
 * Reply: [token, meta, hasMeta '1'|'0', 'runId/replid', id1, recorded1, stored1, id2, recorded2, stored2, ...].
 */
const LOAD = `
${INFO}
local meta = redis.call('GET', KEYS[2])
local server = (string.match(info('server'), 'run_id:(%x+)') or '') .. '/' .. (string.match(info('replication'), 'master_replid:(%x+)') or '')
local out = { redis.call('GET', KEYS[1]) or '0', meta or '', meta and '1' or '0', server }
local lengths = redis.call('HGETALL', KEYS[3])
for i = 1, #lengths, 2 do
  out[#out + 1] = lengths[i]
  out[#out + 1] = lengths[i + 1]
  out[#out + 1] = tostring(redis.call('STRLEN', KEYS[4] .. lengths[i]))
end
return out
`;

/**
 * Lists again the segments of a queue whose list (`l`) and metadata are both gone (evicted under an `allkeys-*` policy,
 * or deleted), its token too or not: without it, the queue read as new, its ids were given out again over its stored
 * items, and those were never handed out nor named. Only while the queue is still in that state, as the token the
 * caller loaded says ('0' for none); segments are listed at the length they have now. None found: the token goes too,
 * so that the queue reads as deleted (the handles that knew it report what they held), never as the same history
 * starting over.
 * With ARGV[2] 'merge' (a commit found a segment its list does not name: the list lost, the metadata kept, or a queue
 * about to be created where keys are evicted), the segments the list lacks are added to it, whatever else is there.
 * KEYS: version, meta, lengths, then the segment keys found. ARGV: the token loaded, '' or 'merge', then their ids.
 * Reply: how many segments it listed, or -1 when the queue is no longer in that state.
 */
const RELIST = `
local merge = ARGV[2] == 'merge'
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return -1 end
if not merge and (redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[3]) == 1) then return -1 end
local listed = 0
for i = 4, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('HSETNX', KEYS[3], ARGV[i - 1], redis.call('STRLEN', KEYS[i]))
    listed = listed + 1
  end
end
if listed == 0 and not merge then redis.call('DEL', KEYS[1]) end
return listed
`;

/** The token of a queue nothing was ever committed to. */
export const INITIAL_TOKEN = '0';

/**
 * The generation of the queue's history `token` belongs to: made when the queue was created (the first commit to an
 * empty version), carried on by every commit since; undefined for a token made by an earlier version of sluice, which
 * carries none (nothing is compared then). The empty string stands for no queue at all (no commit yet, or its keys
 * deleted).
 */
export function generationOf(token: string): string | undefined {
  const slash = token.indexOf('/');
  return slash < 0 ? undefined : token.slice(0, slash);
}

/**
 * The same commit, allowed to run when Redis is at `maxmemory` (Redis 7 script flags): used for commits that write
 * no segment bytes (takes, acks, releases), so that consumers can still drain, and free, a full Redis. Under the
 * default `noeviction` policy every write would be refused, acks included, and nothing could ever free memory.
 */
const COMMIT_WHEN_FULL = `#!lua flags=allow-oom\n${COMMIT}`;

/**
 * Lua for BEAT and GONE: `heardFrom(key)` is when this primary was first heard from, as `key` records it with its
 * replication id (new at each promotion). A record of another primary (a replica promoted since: the record came
 * with the data) is replaced by this one's, from now; none at all (a queue new here, or none beat for a day) is made
 * as if long known. `now` is the server's time in ms.
 */
const PRIMARY = `
-- TIME refused (renamed, or not granted to the user): each machine keeps to its own clock, the caller's time given last.
local timed, time = pcall(redis.call, 'TIME')
local now = timed and tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) or tonumber(ARGV[#ARGV])
${INFO}
local function heardFrom(key)
  local replid = string.match(info('replication'), 'master_replid:(%x+)') or ''
  local seen = redis.call('GET', key)
  if seen and string.sub(seen, 1, #replid + 1) == replid .. ':' then return tonumber(string.sub(seen, #replid + 2)) end
  local since = seen and now or 0
  redis.call('SET', key, replid .. ':' .. since, 'PX', ARGV[#ARGV - 1])
  return since
end
`;

/**
 * A heartbeat's refresh, allowed at `maxmemory` (a refused refresh would make a live handle look dead). "Gone" is
 * final: once another handle judged this owner gone (`GONE` left its tombstone) the key is not made again, and the
 * handle must go on under a new owner. A key that expired unjudged (a server restarted without it) is made again when
 * the caller allows it. Each beat also records the primary it reached (KEYS[3], see `heardFrom`): a replica promoted
 * is heard from at the first beat after the failover. An open's first beat marks the queue made (KEYS[4], for good, see
 * `RedisStore.exists`), at no round trip of its own and at `maxmemory` too. KEYS: heartbeat, tombstone, judging primary,
 * mark. ARGV: ttlMs, '1' to make an expired key again, '1' to mark, the record's TTL, the caller's time (see PRIMARY).
 * Reply: 1 refreshed, 2 made again (had expired, nobody judged it), 0 judged gone.
 */
const BEAT = `#!lua flags=allow-oom
${PRIMARY}
if ARGV[3] == '1' then redis.call('SET', KEYS[4], '1', 'NX') end
heardFrom(KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[4]) -- kept for as long as handles beat
if redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'XX') then return 1 end
if ARGV[2] ~= '1' or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return 2
`;

/**
 * Whether an owner is gone, judged once for every handle: a missing heartbeat leaves a tombstone that its owner's
 * next beat finds (see BEAT), so an owner judged gone never comes back under that name. A server up for less than
 * `ownerTtlMs` (restarted, its heartbeats lost or expired while it was down) judges nobody: live owners have not yet
 * had a beat to write theirs again. Nor does a server other than the one the caller last knew (ARGV[3], its run_id;
 * '' for any): a replica promoted (a Cluster node failed over) may have been up for long, yet missed the last beats
 * while it lagged; the caller then judges nobody for `ownerTtlMs`. A handle that knew no server before (opened since)
 * cannot tell a promotion so: a primary judges nobody for `ownerTtlMs` from when it was first heard from as primary
 * (see `heardFrom`; the handles' beats tell it at once after a failover).
 * KEYS: heartbeat, tombstone, judging primary. ARGV: ownerTtlMs, run_id expected, the TTL of the tombstone and record,
 * the caller's time (see PRIMARY).
 * Reply: 1 gone, 0 not (or not judged), or the server's run_id when it is not the one expected (not judged).
 */
const GONE = `#!lua flags=allow-oom
${PRIMARY}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
local about = info('server')
local server = string.match(about, 'run_id:(%x+)') or ''
if ARGV[2] ~= '' and server ~= ARGV[2] then return server end
-- Whole seconds of the clock since the start: up to a second more than the time up.
local uptime = tonumber(string.match(about, 'uptime_in_seconds:(%d+)')) or 0
if (uptime - 1) * 1000 < tonumber(ARGV[1]) then return 0 end
if now - heardFrom(KEYS[3]) < tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
return 1
`;

/**
 * The commit scripts' text and SHA1, for a commit pipelined with WAIT: ioredis would resend a defined command whose
 * script the server lost (SCRIPT FLUSH, a restart) as EVAL on its own, after the WAIT, which then covers nothing.
 */
export const COMMITS = {
  sluiceCommit6: { lua: COMMIT, sha: sha1(COMMIT) },
  sluiceCommitWhenFull6: { lua: COMMIT_WHEN_FULL, sha: sha1(COMMIT_WHEN_FULL) },
};

/** The commands the store adds to a client. Versioned names: two sluice versions may share one client. */
export interface ScriptedClient {
  sluiceCommit6(...args: (string | number | Buffer)[]): Promise<string>;
  sluiceCommitWhenFull6(...args: (string | number | Buffer)[]): Promise<string>;
  sluiceLoad4Buffer(...args: string[]): Promise<Buffer[]>;
  sluiceRelist3(...args: string[]): Promise<number>;
  sluiceBeat4(heartbeat: string, tombstone: string, judging: string, mark: string, ttlMs: number, remake: '0' | '1', marks: '0' | '1', recordTtlMs: number, now: number): Promise<number>;
  sluiceGone4(heartbeat: string, tombstone: string, judging: string, ownerTtlMs: number, server: string, goneTtlMs: number, now: number): Promise<number | string>;
}

/**
 * Teaches `client` the store's scripts. ioredis sends a script's text once per connection and `EVALSHA` after,
 * so a commit carries its arguments only; in a Cluster, each node's connection learns them the same way.
 */
export function defineScripts(client: Redis | Cluster): ScriptedClient {
  const scripted = client as unknown as Partial<ScriptedClient>;
  if (typeof scripted.sluiceCommit6 !== 'function') client.defineCommand('sluiceCommit6', { lua: COMMIT });
  if (typeof scripted.sluiceCommitWhenFull6 !== 'function') client.defineCommand('sluiceCommitWhenFull6', { lua: COMMIT_WHEN_FULL });
  if (typeof scripted.sluiceLoad4Buffer !== 'function') client.defineCommand('sluiceLoad4', { lua: LOAD });
  if (typeof scripted.sluiceRelist3 !== 'function') client.defineCommand('sluiceRelist3', { lua: RELIST });
  if (typeof scripted.sluiceBeat4 !== 'function') client.defineCommand('sluiceBeat4', { lua: BEAT, numberOfKeys: 4 });
  if (typeof scripted.sluiceGone4 !== 'function') client.defineCommand('sluiceGone4', { lua: GONE, numberOfKeys: 3 });
  return client as unknown as ScriptedClient;
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}
