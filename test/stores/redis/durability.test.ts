import { Redis } from 'ioredis';
import { expect, it, vi } from 'vitest';
import { Outbox, Queue } from '../../../src/index.js';
import { RedisStore } from '../../../src/redis.js';
import { RedisServer } from '../../support/redis-server.js';
import { describeRedis } from '../../support/redis-suite.js';

describeRedis('RedisStore durability "strict"', () => {
  const strictWarnings = async (args: string[], extra: object = {}) => {
    const server = await RedisServer.start({ args });
    const warnings: string[] = [];
    try {
      const store = new RedisStore({ url: server.url, onWarning: (m) => warnings.push(m), ...extra });
      const q = await Queue.open<number>({ name: 'q', store, durability: 'strict' });
      await q.push(1);
      await q.push(2);
      await q.close();
      await store.close();
    } finally {
      await server.stop();
    }
    return warnings;
  };

  it('says nothing where every write is fsynced (appendonly yes, appendfsync always)', async () => {
    expect(await strictWarnings([])).toEqual([]);
  });

  it('warns once where it cannot be honoured (appendfsync everysec, no replicas)', async () => {
    const warnings = await strictWarnings(['--appendfsync', 'everysec']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/cannot be honoured/);
  });

  it('warns once that it cannot verify where CONFIG is disabled, as on managed Redis', async () => {
    const warnings = await strictWarnings(['--rename-command', 'CONFIG', '""']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/cannot be verified: CONFIG GET is refused/);
  });

  it('WAITs for replicas; too few confirmations reject the commit with ERR_STORAGE', async () => {
    // No 5 s wait for more replicas before the first (diskless) sync.
    const primary = await RedisServer.start({ args: ['--appendonly', 'no', '--repl-diskless-sync-delay', '0'] });
    const replica = await RedisServer.start({ args: ['--appendonly', 'no', '--replicaof', '127.0.0.1', String(primary.port)] });
    const admin = new Redis(primary.url);
    const warnings: string[] = [];
    try {
      // Connected is not enough: WAIT counts a replica once its first sync is done.
      while (!/slave0:.*state=online/.test(await admin.info('replication'))) await new Promise((resolve) => setTimeout(resolve, 50));
      // Online is not yet answering: a replica just synced may take a moment before it confirms a first WAIT.
      while ((await admin.set('warm', '1').then(() => admin.wait(1, 1000))) < 1);
      const store = new RedisStore({ url: primary.url, replicaTimeoutMs: 300, onWarning: (m) => warnings.push(m) });
      const q = await Queue.open<number>({ name: 'q', store, durability: 'strict' });
      await q.push(1);
      expect(await admin.info('commandstats')).toMatch(/cmdstat_wait:calls=[1-9]/);
      await replica.stop();
      const error = await q.push(2).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ERR_STORAGE' });
      expect((error as Error).message).toMatch(/only 0 of 1 replicas confirmed/);
      await q.close();
      await store.close();
      expect(warnings).toEqual([]);
    } finally {
      admin.disconnect();
      await replica.stop();
      await primary.stop();
    }
  });

  /** Until `replica` is in sync with `admin`'s server and confirms a WAIT. */
  const synced = async (admin: Redis) => {
    while (!/slave0:.*state=online/.test(await admin.info('replication'))) await new Promise((resolve) => setTimeout(resolve, 50));
    while ((await admin.set('warm', '1').then(() => admin.wait(1, 1000))) < 1);
  };

  /**
   * Runs `fn` with a primary started with `args`, its replica in sync, and a client of the primary's (`admin`); the
   * replica is let go on (SIGCONT) and both servers stopped after, whatever `fn` did to them.
   */
  const withReplica = async (args: string[], fn: (servers: { replica: RedisServer; admin: Redis }) => Promise<void>) => {
    const primary = await RedisServer.start({ args: [...args, '--repl-diskless-sync-delay', '0'] });
    const replica = await RedisServer.start({ args: ['--appendonly', 'no', '--replicaof', '127.0.0.1', String(primary.port)] });
    const admin = new Redis(primary.url);
    try {
      await synced(admin);
      await fn({ replica, admin });
    } finally {
      // Let go on if `fn` stopped it (SIGSTOP), unless it stopped it for good.
      if (replica.running) replica.signal('SIGCONT');
      await replica.stop();
      admin.disconnect();
      await primary.stop();
    }
  };
  /** A strict queue on `admin`'s server (or through `client`), and what it told `onWarning`. */
  const strictQueue = async (admin: Redis, client?: Redis) => {
    const warnings: string[] = [];
    const where = client ? { client } : { url: `redis://127.0.0.1:${admin.options.port}` };
    const store = new RedisStore({ ...where, replicaTimeoutMs: 300, onWarning: (m) => warnings.push(m) });
    const q = await Queue.open<number>({ name: 'q', store, durability: 'strict' });
    return { q, warnings, close: async () => (await q.close(), await store.close()) };
  };
  /** With `replica` stopped (after `meanwhile`), `push` rejects: its commit is on the primary, unconfirmed. */
  const unconfirmed = async (replica: RedisServer, push: () => Promise<unknown>, meanwhile?: () => Promise<unknown>) => {
    replica.signal('SIGSTOP');
    try {
      await meanwhile?.();
      const error = await push().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ERR_STORAGE' });
      expect((error as Error).message).toMatch(/only 0 of 1 replicas confirmed/);
    } finally {
      replica.signal('SIGCONT');
    }
  };

  it('WAITs for a replica that attached after the settings were read (after a failover, the old primary back as a replica)', async () => {
    const primary = await RedisServer.start({ args: ['--appendonly', 'no', '--repl-diskless-sync-delay', '0'] });
    const admin = new Redis(primary.url);
    let replica: RedisServer | undefined;
    try {
      const { q, warnings, close } = await strictQueue(admin);
      // No replica yet: strict cannot be honoured, and says so.
      await q.push(1);
      expect(warnings).toEqual([expect.stringMatching(/cannot be honoured/)]);
      replica = await RedisServer.start({ args: ['--appendonly', 'no', '--replicaof', '127.0.0.1', String(primary.port)] });
      await synced(admin);
      // Read again (at most once a second) before a strict commit: this one waits for the replica.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await q.push(2);
      // Its replica stops taking writes: a strict commit must not resolve (it resolved at once, unreplicated).
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await unconfirmed(replica, () => q.push(3));
      await close();
    } finally {
      replica?.signal('SIGCONT');
      admin.disconnect();
      await replica?.stop();
      await primary.stop();
    }
  });

  it('WAITs for replicas where every write is fsynced too: a failover to one discards the fsynced copy', async () => {
    // appendonly yes, appendfsync always (the test server's default), and a replica.
    await withReplica([], async ({ replica, admin }) => {
      const { q, close } = await strictQueue(admin);
      await q.push(1);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await unconfirmed(replica, () => q.push(2));
      await close();
    });
  });

  it('a replica removed for good does not fail every strict commit after: the replicas are read again, and fsync stands', async () => {
    await withReplica([], async ({ replica, admin }) => {
      const { q, close } = await strictQueue(admin);
      await q.push(1);
      await replica.stop();
      while (!/connected_slaves:0/.test(await admin.info('replication'))) await new Promise((resolve) => setTimeout(resolve, 50));
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const results: unknown[] = [];
      for (let i = 0; i < 2; i++) {
        results.push(await q.push(10 + i).then(() => 'ok', (e: { code?: string }) => e.code));
        await new Promise((resolve) => setTimeout(resolve, 1100));
      }
      expect(results).toEqual(['ok', 'ok']);
      await close();
    });
  });

  it('a replica seen and then gone, where writes are not fsynced: strict commits fail until one is back, never resolve unreplicated (a failover to it lost them)', async () => {
    await withReplica(['--appendonly', 'yes', '--appendfsync', 'everysec'], async ({ replica, admin }) => {
      const { q, warnings, close } = await strictQueue(admin);
      await q.push(1);
      replica.signal('SIGSTOP');
      await admin.call('CLIENT', 'KILL', 'TYPE', 'replica');
      while (!/connected_slaves:0/.test(await admin.info('replication'))) await new Promise((resolve) => setTimeout(resolve, 50));
      await new Promise((resolve) => setTimeout(resolve, 1200));
      for (let i = 0; i < 2; i++) {
        expect(await q.push(10 + i).then(() => 'ok', (e: { code?: string }) => e.code)).toBe('ERR_STORAGE');
        await new Promise((resolve) => setTimeout(resolve, 1100));
      }
      expect(warnings).toEqual([expect.stringMatching(/had replicas has none connected now/)]);
      replica.signal('SIGCONT');
      await synced(admin);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await q.push(20);
      await close();
    });
  });

  it('a primary made the replica of one that lagged and promoted again (a failover and back) is read again whole: it delivers the items pushed since, not its own rejected ones', async () => {
    await withReplica(['--appendonly', 'no'], async ({ replica, admin }) => {
      const other = new Redis(replica.url);
      const port = String(admin.options.port);
      // A client of the user's: no reconnection at READONLY (as a Cluster's, whose demoted node answers MOVED).
      const client = new Redis(admin.options.port!, '127.0.0.1');
      try {
        const { q, close } = await strictQueue(admin, client);
        await q.push(0);
        // The replica takes over with what it has: the strict pushes after are on the old primary alone, rejected.
        await other.replicaof('NO', 'ONE');
        for (const n of [1, 2, 3]) expect(await q.push(n).then(() => 'ok', (e: { code?: string }) => e.code)).toBe('ERR_STORAGE');
        // The old primary, the same process (same run_id, same connection), becomes its replica: a full sync drops them.
        await admin.replicaof('127.0.0.1', String(replica.port));
        while (!/master_link_status:up/.test(await admin.info('replication'))) await new Promise((resolve) => setTimeout(resolve, 50));
        // Another handle pushes on the new primary, under the numbers the rejected pushes had.
        const pusher = new RedisStore({ url: replica.url });
        const pushed = await Queue.open<number>({ name: 'q', store: pusher });
        for (const n of [10, 11, 12]) await pushed.push(n);
        await pushed.close();
        await pusher.close();
        // WAIT counts replicas up to this connection's own last write: one of its own, after those pushes, orders them.
        await other.set('mark', '1');
        expect(await other.wait(1, 5000)).toBe(1);
        // And back: the old primary takes over again (a new replication id), its replica behind it.
        await admin.replicaof('NO', 'ONE');
        await other.replicaof('127.0.0.1', port);
        await synced(admin);
        const got: number[] = [];
        for (let lease = await q.take(100); lease; lease = await q.take(100)) {
          got.push(...lease.entries.map((e) => e.value));
          await lease.ack();
        }
        expect(got).toEqual([0, 10, 11, 12]);
        await close();
      } finally {
        other.disconnect();
        client.disconnect();
      }
    });
  });

  it('keeps the replicas it found when reading the settings again fails (a reconnection to a busy server): strict still WAITs', async () => {
    await withReplica(['--appendonly', 'no'], async ({ replica, admin }) => {
      const client = new Redis(admin.options.port!, '127.0.0.1');
      try {
        const { q, warnings, close } = await strictQueue(admin, client);
        await q.push(1);
        // The settings are read again at a reconnection, and this time the server does not answer INFO.
        const info = vi.spyOn(client, 'info').mockRejectedValue(new Error('LOADING Redis is loading the dataset in memory'));
        client.emit('ready');
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await unconfirmed(replica, () => q.push(2));
        expect(warnings).toEqual([expect.stringMatching(/cannot read the Redis server's persistence settings \(LOADING.*strict commits go on as read before/)]);
        info.mockRestore();
        await close();
      } finally {
        client.disconnect();
      }
    });
  });

  it("a WAIT the server refuses (an ACL user without it) rejects the push as unconfirmed, saying the item is on the primary", async () => {
    await withReplica(['--appendonly', 'no'], async ({ admin }) => {
      await admin.acl('SETUSER', 'app', 'on', 'nopass', '~*', '&*', '+@all', '-wait');
      const store = new RedisStore({ url: `redis://app:@127.0.0.1:${admin.options.port}`, replicas: 1, onWarning: () => undefined });
      const q = await Queue.open<string>({ name: 'q', store, durability: 'strict' });
      const error = await q.push('one').catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ERR_STORAGE', message: expect.stringMatching(/is on the Redis primary but only 0 of 1 replicas.*WAIT was refused: NOPERM/), cause: { message: expect.stringContaining('NOPERM') } });
      // As the message says: the item is stored, and delivered.
      expect(await q.peek(5)).toEqual(['one']);
      // So is a blob's piece (an outbox's large body), told the same way.
      await expect(q.blobs!.write('k', 0, new Uint8Array([1, 2]))).rejects.toMatchObject({ code: 'ERR_STORAGE', message: expect.stringMatching(/is on the Redis primary but only 0 of 1 replicas.*WAIT was refused: NOPERM/) });
      expect(await q.blobs!.read('k', 0, 2)).toEqual(new Uint8Array([1, 2]));
      await q.close();
      await store.close();
    });
  });

  it('WAITs behind the script even after the server lost its scripts (SCRIPT FLUSH): no commit resolves unreplicated', async () => {
    await withReplica(['--appendonly', 'no'], async ({ replica, admin }) => {
      const store = new RedisStore({ url: `redis://127.0.0.1:${admin.options.port}`, replicas: 1, replicaTimeoutMs: 300, onWarning: () => undefined });
      const q = await Queue.open<string>({ name: 'q', store, durability: 'strict' });
      await q.push('one');
      // A replica acknowledges its offset once a second: let it catch up with the store's own writes since.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      // The only replica stops taking writes: a strict commit must not resolve.
      await unconfirmed(replica, () => q.push('two'), () => admin.script('FLUSH'));
      await q.close();
      await store.close();
    });
  });
});

describeRedis('RedisStore at maxmemory', (server) => {
  it('a push Redis refuses for want of memory is ERR_QUOTA_EXCEEDED and stores nothing; acks still free it', async () => {
    const store = new RedisStore({ url: server().url, onWarning: () => undefined });
    const q = await Queue.open<string>({ name: 'q', store, segmentBytes: 8 << 20, maxItemBytes: 1 << 20 });
    const item = 'x'.repeat(100_000);
    let pushed = 0;
    let error: unknown;
    for (let i = 0; i < 200 && !error; i++) {
      try {
        await q.push(item);
        pushed++;
      } catch (e) {
        error = e;
      }
    }
    expect(error).toMatchObject({ code: 'ERR_QUOTA_EXCEEDED' });
    expect(pushed).toBeGreaterThan(0);
    expect(await q.size()).toBe(pushed);
    // Full, yet not stuck: takes and acks still commit, and the acks free the memory for new pushes.
    const lease = await q.take(1000);
    expect(lease!.entries).toHaveLength(pushed);
    await lease!.ack();
    expect(await q.size()).toBe(0);
    await q.push(item);
    expect(await q.size()).toBe(1);
    await q.close();
    await store.close();
  });

  it("an outbox's dead letters go in: a full outbox whose first task goes dead still delivers the rest", async () => {
    // The letter is a write that adds bytes; refused, the task's group waited for room that only its sends make.
    const store = new RedisStore({ url: server().url, onWarning: () => undefined });
    const fetch = async (url: string | URL | Request) => new Response(null, { status: String(url).endsWith('/t/0') ? 400 : 200 });
    const outbox = await Outbox.open({ name: 'full', store, fetch });
    outbox.setOnline(false);
    let enqueued = 0;
    const refused = await (async () => {
      for (;;) await outbox.enqueue({ url: `http://127.0.0.1:59/t/${enqueued++}`, body: { pad: 'x'.repeat(20_000) } });
    })().catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'ERR_QUOTA_EXCEEDED' });
    const tasks = enqueued - 1;
    expect(tasks).toBeGreaterThan(10);
    outbox.setOnline(true);
    expect(await outbox.flush()).toEqual({ sent: tasks - 1, retried: 0, dead: 1, handedOver: 0, remaining: 0 });
    expect(await outbox.dead.list()).toEqual([expect.objectContaining({ reason: 'status', status: 400 })]);
    await outbox.close();
    await store.close();
  });
}, { args: ['--maxmemory', '4mb', '--maxmemory-policy', 'noeviction'] });

describeRedis('RedisStore at maxmemory, strict with a replica', () => {
  it('takes and acks still commit (and WAIT) once pushes are refused', async () => {
    const primary = await RedisServer.start({ args: ['--appendonly', 'no', '--repl-diskless-sync-delay', '0', '--maxmemory', '4mb', '--maxmemory-policy', 'noeviction'] });
    const replica = await RedisServer.start({ args: ['--appendonly', 'no', '--replicaof', '127.0.0.1', String(primary.port)] });
    const admin = new Redis(primary.url);
    try {
      while (!/slave0:.*state=online/.test(await admin.info('replication'))) await new Promise((resolve) => setTimeout(resolve, 50));
      while ((await admin.set('warm', '1').then(() => admin.wait(1, 1000))) < 1);
      const store = new RedisStore({ url: primary.url, onWarning: () => undefined });
      const q = await Queue.open<string>({ name: 'q', store, durability: 'strict', segmentBytes: 8 << 20, maxItemBytes: 1 << 20 });
      let error: unknown;
      let pushed = 0;
      for (let i = 0; i < 200 && !error; i++) await q.push('x'.repeat(100_000)).then(() => pushed++, (e: unknown) => (error = e));
      expect(error).toMatchObject({ code: 'ERR_QUOTA_EXCEEDED' });
      const lease = await q.take(1000);
      expect(lease!.entries).toHaveLength(pushed);
      await lease!.ack();
      expect(await q.size()).toBe(0);
      await q.close();
      await store.close();
    } finally {
      admin.disconnect();
      await replica.stop();
      await primary.stop();
    }
  });
});

describeRedis('RedisStore and the eviction policy', () => {
  /** The eviction warnings a store gives once a queue opened on a server started with `args`. */
  const evictionWarnings = async (args: string[]) => {
    const server = await RedisServer.start({ args });
    const warnings: string[] = [];
    try {
      const store = new RedisStore({ url: server.url, onWarning: (m) => warnings.push(m) });
      // The settings are read in the background; a strict commit waits for that read, and so for the warning.
      const q = await Queue.open<number>({ name: 'q', store, durability: 'strict' });
      await q.push(1);
      await q.close();
      await store.close();
    } finally {
      await server.stop();
    }
    return warnings.filter((m) => /maxmemory-policy/.test(m));
  };

  it('warns once that queues can be lost where any key may be evicted (allkeys-*)', async () => {
    const warnings = await evictionWarnings(['--maxmemory-policy', 'allkeys-lru']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/maxmemory-policy allkeys-lru/);
    expect(warnings[0]).toMatch(/lost/);
    expect(warnings[0]).toMatch(/set maxmemory-policy noeviction/i);
  });

  it('warns once that items may be delivered twice where keys with a TTL may be evicted (volatile-*)', async () => {
    const warnings = await evictionWarnings(['--maxmemory-policy', 'volatile-lru']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/maxmemory-policy volatile-lru/);
    expect(warnings[0]).toMatch(/heartbeat/);
    expect(warnings[0]).toMatch(/set maxmemory-policy noeviction/i);
  });

  // Creating a queue there looks for segments a lost list left (a SCAN): refused, every load looked again, for good.
  it.each([
    ['a user without SCAN', []],
    ['SCAN renamed away', ['--rename-command', 'SCAN', '""']],
  ])('%s, where keys are evicted: a new queue is made and used', async (_, renamed) => {
    const server = await RedisServer.start({ args: ['--maxmemory-policy', 'allkeys-lru', ...renamed] });
    const admin = new Redis(server.url);
    try {
      await admin.call('ACL', 'SETUSER', 'app', 'on', '>pw', '~*', '&*', '+@all', ...(renamed.length > 0 ? [] : ['-scan']));
      const url = new URL(server.url);
      url.username = 'app';
      url.password = 'pw';
      const store = new RedisStore({ url: url.href, onWarning: () => undefined });
      const q = await Queue.open<number>({ name: 'fresh', store });
      await q.pushMany([1, 2, 3]);
      const lease = await q.take(3);
      expect(lease?.entries.map((e) => e.value)).toEqual([1, 2, 3]);
      await lease!.ack();
      expect(await q.size()).toBe(0);
      await q.close();
      await store.close();
    } finally {
      admin.disconnect();
      await server.stop();
    }
  });

  it('a command the commit writes with renamed away (HSET): a push is refused ERR_STORAGE naming it, and writes nothing', async () => {
    const server = await RedisServer.start({ args: ['--rename-command', 'HSET', '""'] });
    try {
      const store = new RedisStore({ url: server.url, onWarning: () => undefined });
      const q = await Queue.open<number>({ name: 'q', store }).catch((error: unknown) => error);
      const refused = q instanceof Queue ? await q.push(1).catch((error: unknown) => error) : q;
      expect(refused).toMatchObject({ code: 'ERR_STORAGE', message: expect.stringContaining('no command HSET') });
      const admin = new Redis(server.url);
      // The handle's heartbeat, the record of when this server was first heard from and the mark of the queue's open
      // aside: no segment, list or token.
      expect((await admin.keys('*')).filter((key) => !/:(h:[^:]+|j|o)$/.test(key))).toEqual([]);
      admin.disconnect();
      if (q instanceof Queue) await q.close().catch(() => undefined);
      await store.close();
    } finally {
      await server.stop();
    }
  });

  it('says nothing with noeviction, nor where CONFIG is refused', async () => {
    expect(await evictionWarnings(['--maxmemory-policy', 'noeviction'])).toEqual([]);
    expect(await evictionWarnings(['--maxmemory-policy', 'allkeys-lru', '--rename-command', 'CONFIG', '""'])).toEqual([]);
  });
});

describeRedis('RedisStore after a reconnection', (server) => {
  it('reads the settings again: persistence or an eviction policy weakened meanwhile is warned about', async () => {
    const warnings: string[] = [];
    const admin = new Redis(server().url);
    const store = new RedisStore({ url: server().url, onWarning: (m) => warnings.push(m) });
    try {
      const q = await Queue.open<number>({ name: 'q', store, durability: 'strict' });
      await q.push(1);
      expect(warnings).toEqual([]);
      // A restart with another configuration, or a failover to a server that has one: the connection drops and comes back.
      await admin.config('SET', 'appendonly', 'no');
      await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      // A strict push waits for the settings as last read: once the reconnected client has read them again, it warns.
      for (let i = 0; i < 100 && warnings.length < 2; i++) {
        await q.push(2);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(warnings).toHaveLength(2);
      expect(warnings).toEqual(expect.arrayContaining([expect.stringMatching(/maxmemory-policy allkeys-lru/), expect.stringMatching(/'strict' cannot be honoured/)]));
      await q.close();
    } finally {
      // The server is this block's own: it stops with its settings as they are.
      admin.disconnect();
      await store.close();
    }
  });
});

describeRedis("RedisStore and the machines' clocks", (server) => {
  /** The clock warnings a store gives once a queue opened with this machine's clock `offsetMs` off. */
  const clockWarnings = async (offsetMs: number) => {
    const now = Date.now.bind(Date);
    const shifted = vi.spyOn(Date, 'now').mockImplementation(() => now() + offsetMs);
    const warnings: string[] = [];
    const store = new RedisStore({ url: server().url, prefix: `clock${offsetMs}:`, onWarning: (m) => warnings.push(m) });
    try {
      // The settings are read in the background; a strict commit waits for that read, and so for the warning.
      const q = await Queue.open<number>({ name: 'q', store, durability: 'strict' });
      await q.push(1);
      await q.close();
    } finally {
      await store.close();
      shifted.mockRestore();
    }
    return warnings.filter((m) => /clock/.test(m));
  };

  it("warns once when this machine's clock is a minute ahead of the server's, or behind it", async () => {
    const ahead = await clockWarnings(60_000);
    expect(ahead).toHaveLength(1);
    expect(ahead[0]).toMatch(/this machine's clock is (59\d{3}|60\d{3}) ms ahead of the Redis server's/);
    expect(ahead[0]).toMatch(/NTP/);
    expect(await clockWarnings(-60_000)).toEqual([expect.stringMatching(/ms behind the Redis server's/)]);
  });

  it('says nothing when the clocks agree', async () => {
    expect(await clockWarnings(0)).toEqual([]);
  });
});
