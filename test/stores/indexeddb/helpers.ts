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
