import { describe, expect, it } from 'vitest';
import { taskFromRequest } from '../../src/outbox/request-task.js';
import { normaliseTask, prepareTask, publicTask } from '../../src/outbox/task.js';

const now = 1_700_000_000_000;

describe('taskFromRequest()', () => {
  it('keeps body, method, headers, mode and credentials faithfully', async () => {
    const bytes = new Uint8Array([9, 8, 7, 0, 255]);
    const request = new Request('https://api.test/upload', {
      method: 'PUT',
      body: bytes,
      headers: { 'x-trace': 'abc', 'content-type': 'application/octet-stream' },
      mode: 'cors',
      credentials: 'include',
    });
    const task = normaliseTask(await taskFromRequest(request, 'idempotency-key'), undefined, now, 'idempotency-key');
    expect(task).toMatchObject({ method: 'PUT', url: 'https://api.test/upload', mode: 'cors', credentials: 'include' });
    expect(task.headers).toMatchObject({ 'x-trace': 'abc', 'content-type': 'application/octet-stream' });
    expect(publicTask(JSON.parse(JSON.stringify(task))).body).toEqual(bytes);
  });

  it('refuses at enqueue a header given twice in two cases, and an Idempotency-Key header (the id is the key): nothing dropped silently', () => {
    expect(() => prepareTask({ url: 'http://a.test/x', headers: { 'X-A': '1', 'x-a': '2' } }, undefined, now, 'idempotency-key', true)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_TASK', message: expect.stringContaining('given twice') }));
    expect(() => prepareTask({ url: 'http://a.test/x', headers: { 'Idempotency-Key': 'mine' } }, undefined, now, 'idempotency-key', true)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_TASK', message: expect.stringContaining('`id`') }));
    // A task onBeforeSend edits (stored names are lower-case), or one an earlier version stored: the last wins, the key goes.
    expect(normaliseTask({ url: 'http://a.test/x', headers: { authorization: 'old', Authorization: 'new', 'idempotency-key': 'x' } }, undefined, now, 'idempotency-key').headers).toEqual({ authorization: 'new' });
  });

  it('takes an Idempotency-Key header as the task id', async () => {
    const task = await taskFromRequest(new Request('https://api.test/', { method: 'POST', body: 'x', headers: { 'Idempotency-Key': 'k1' } }), 'idempotency-key');
    expect(task.id).toBe('k1');
    expect(normaliseTask(task, undefined, now, 'idempotency-key')).toMatchObject({ id: 'k1', headers: { 'content-type': 'text/plain;charset=UTF-8' } });
  });

  it('refuses a request whose body cannot be read (used already, or its stream failed) as ERR_INVALID_TASK', async () => {
    const used = new Request('https://api.test/', { method: 'POST', body: 'x' });
    await used.text();
    const failing = new Request('https://api.test/', {
      method: 'POST',
      body: new ReadableStream({ pull: (controller) => controller.error(new Error('disk gone')) }),
      duplex: 'half',
    } as RequestInit);
    for (const request of [used, failing]) await expect(taskFromRequest(request, 'idempotency-key')).rejects.toMatchObject({ name: 'SluiceError', code: 'ERR_INVALID_TASK' });
  });
});
