// Driving the field-notes demo (demo/) through its page, in any engine: build it, open it, write notes, read what
// each note's tasks show, flip the server's switch.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { rollup } from 'rollup';
import { demoConfig } from '../../demo/rollup.config.mjs';
import type { DrivenPage } from '../browser/drive/index.mjs';

const repo = new URL('../../', import.meta.url).pathname;

/** Builds the demo as `npm run demo` does, into a directory of its own (engines run in parallel). */
export async function buildDemo(): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'sluice-demo-'));
  for (const config of demoConfig({ outDir })) {
    const bundle = await rollup({ ...config, onwarn: (warning) => { throw new Error(`demo build: ${warning.message}`); } });
    await bundle.write(config.output);
    await bundle.close();
  }
  return outDir;
}

/** Where a scenario's screenshot goes: test-results/demo/<engine>-<name>.png. */
export function screenshotPath(engine: string, name: string): string {
  const dir = join(repo, 'test-results', 'demo');
  mkdirSync(dir, { recursive: true });
  return join(dir, `${engine}-${name}.png`);
}

/** A small PNG (a gradient), as a photo to attach. */
export function png(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Buffer) => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows.set([40 + (x * 200) / width, 110 + (y * 120) / height, 95], y * (width * 3 + 1) + 1 + x * 3);
  }
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * Polls `check` until it returns a value other than undefined or null (WebDriver, for WebKit, turns a page's
 * undefined into null); fails after `ms`, saying what was waited for.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | null> | T | undefined | null, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > end) throw new Error(`waited ${ms} ms for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

/** Waits until the page has drawn from its outbox and its service worker controls it (the shell is cached). */
export async function appReady(page: DrivenPage): Promise<void> {
  await waitFor('the app and its service worker', () =>
    page.evaluate(() => (document.documentElement.hasAttribute('data-ready') && document.querySelector('#worker[data-ready]') && navigator.serviceWorker.controller ? true : undefined)),
  );
}

export interface TaskView {
  readonly note: string;
  readonly task: string;
  readonly state: string;
  readonly status?: number;
  readonly text: string;
}

/** Every task of every note, as the page shows it, oldest note first. */
export function tasks(page: DrivenPage): Promise<TaskView[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('#notes li[data-note]')].reverse().flatMap((note) =>
      [...note.querySelectorAll<HTMLElement>('[data-task]')].map((task) => ({
        note: note.querySelector('.text')!.textContent!,
        task: task.dataset.task!,
        state: task.dataset.state!,
        ...(task.dataset.status ? { status: Number(task.dataset.status) } : {}),
        text: task.textContent!,
      })),
    ),
  );
}

/** Waits until every task the page shows is in `state` (and there are `count` of them); says what it saw if not. */
export async function allInState(page: DrivenPage, state: string, count: number, ms?: number): Promise<TaskView[]> {
  let seen: TaskView[] = [];
  try {
    return await waitFor(
      `${count} tasks ${state}`,
      async () => {
        seen = await tasks(page);
        return seen.length === count && seen.every((t) => t.state === state) ? seen : undefined;
      },
      ms,
    );
  } catch (error) {
    const log = await page.evaluate(() => [...document.querySelectorAll('#log li')].map((li) => li.textContent).reverse()).catch(() => []);
    throw new Error(`${(error as Error).message}; the page showed ${JSON.stringify(seen.map((t) => `${t.note}: ${t.text}`))}, its activity log ${JSON.stringify(log)}`);
  }
}

/** Writes a note through the form, with a photo when given; resolves once the note is listed. */
export async function addNote(page: DrivenPage, text: string, photo?: Buffer): Promise<void> {
  const error = await page.evaluate(
    async ({ text, photo }) => {
      const form = document.querySelector<HTMLFormElement>('#note-form')!;
      const button = form.querySelector('button')!;
      for (let i = 0; i < 400 && button.disabled; i++) await new Promise((resolve) => setTimeout(resolve, 25));
      (form.elements.namedItem('text') as HTMLTextAreaElement).value = text;
      if (photo) {
        const bytes = Uint8Array.from(atob(photo), (c) => c.charCodeAt(0));
        const files = new DataTransfer();
        files.items.add(new File([bytes], 'photo.png', { type: 'image/png' }));
        (form.elements.namedItem('photo') as HTMLInputElement).files = files.files;
      }
      form.requestSubmit();
      const listed = () => [...document.querySelectorAll('#notes .text')].some((p) => p.textContent === text);
      for (let i = 0; i < 400; i++) {
        if (listed() && !button.disabled) return '';
        const message = document.querySelector('#form-error')!.textContent;
        if (message) return message;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const log = [...document.querySelectorAll('#log li')].map((li) => li.textContent).reverse();
      return `the note did not appear in the list within 10 s (button ${button.disabled ? 'disabled' : 'enabled'}; activity: ${JSON.stringify(log)})`;
    },
    { text, photo: photo?.toString('base64') ?? '' },
  );
  if (error) throw new Error(`adding "${text}": ${error}`);
}

/** Flips the server's switch through the page's controls. */
export async function switchServer(page: DrivenPage, mode: string): Promise<void> {
  await waitFor(`the server switch "${mode}"`, () =>
    page.evaluate((mode) => {
      const input = document.querySelector<HTMLInputElement>(`#server input[value="${mode}"]`);
      if (!input) return undefined;
      input.click();
      return true;
    }, mode),
  );
  await waitFor(`the page to show the server ${mode}`, () => page.evaluate((mode) => (document.querySelector<HTMLElement>('#server')!.dataset.mode === mode ? true : undefined), mode));
}

/** Clicks a dead letter's button (`retry` or `purge`) for task `task`. */
export async function deadLetterAction(page: DrivenPage, task: string, action: 'retry' | 'purge'): Promise<void> {
  await waitFor(`the dead letter of ${task}`, () =>
    page.evaluate(
      ({ task, action }) => {
        const button = document.querySelector<HTMLButtonElement>(`#dead-list li[data-task="${task}"] button[data-action="${action}"]`);
        if (!button) return undefined;
        button.click();
        return true;
      },
      { task, action },
    ),
  );
}

/** The connectivity badge's state: 'online', 'offline' or 'unreachable'. */
export function connectivity(page: DrivenPage): Promise<string> {
  return page.evaluate(() => document.querySelector<HTMLElement>('#connectivity')!.dataset.state!);
}
