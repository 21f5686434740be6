// A CommonJS module of a Node project: sluice is ESM only, so it is loaded with import(), typed all the same.
export async function drain(): Promise<number[]> {
  const { MemoryStore, Queue } = await import('sluice');
  const queue = await Queue.open<number>({ name: 'numbers', store: new MemoryStore() });
  await queue.pushMany([1, 2]);
  const lease = await queue.take(2);
  await queue.close();
  return lease ? lease.entries.map((entry) => entry.value) : [];
}
