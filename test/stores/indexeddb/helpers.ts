import { vi } from 'vitest';

/** Resolves with a request's result. */
export function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

/** Reads an object store of the database whole, bypassing the store under test. */
export async function dump(factory: IDBFactory, dbName: string, name: string): Promise<{ key: IDBValidKey; value: unknown }[]> {
  const db = await request(factory.open(dbName));
  const tx = db.transaction(name, 'readonly');
  const [keys, values] = await Promise.all([request(tx.objectStore(name).getAllKeys()), request(tx.objectStore(name).getAll())]);
  db.close();
  return keys.map((key, i) => ({ key, value: values[i] }));
}

/** Stubs BroadcastChannel so that every channel opened from now on is kept in the array returned (to silence a tab's). */
export function keepChannels(): BroadcastChannel[] {
  const channels: BroadcastChannel[] = [];
  vi.stubGlobal(
    'BroadcastChannel',
    class extends BroadcastChannel {
      constructor(name: string) {
        super(name);
        channels.push(this);
      }
    },
  );
  return channels;
}
