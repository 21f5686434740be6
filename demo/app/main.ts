// Field notes: the page. It writes each note (and its photo) into the outbox it shares with the service worker,
// and delivers while it is open; the worker delivers what is left once every tab is closed (see the README's Demo
// section for why this split). Everything shown comes from the outbox: `list()`, `dead.list()` and its events.
import { Outbox, SluiceError, type HttpTask } from 'sluice';
import { GROUP, outboxOptions, SYNC_TAG } from './config';
import { loadNotes, onOtherTab, outcomeOf, recordOutcome, saveNote, type NoteRecord } from './notes';
import { photoTask, preparePhoto, thumbnail } from './photo';
import { serverControls } from './server-controls';
import { h, renderDead, renderNotes, type TaskState } from './view';

const $ = <T extends HTMLElement = HTMLElement>(selector: string) => document.querySelector<T>(selector)!;

// ---- writing a note ----

async function addNote(text: string, file: File | undefined): Promise<void> {
  const id = crypto.randomUUID();
  const createdAt = Date.now();
  // Task ids are the Idempotency-Keys the server deduplicates on; chosen here so the note can name them.
  const tasks: HttpTask[] = [{ id: `note-${id}`, url: '/api/notes', body: { id, text, createdAt, photo: !!file }, group: GROUP }];
  let preview: string | undefined;
  if (file) {
    const image = await preparePhoto(file);
    tasks.push(photoTask(id, image, GROUP));
    preview = await thumbnail(image);
  }
  // Stored all or nothing before anything is sent: from here on the note reaches the server, whatever happens to
  // this tab, the network or the server.
  await outbox.enqueueMany(tasks);
  const note: NoteRecord = { id, text, createdAt, tasks: tasks.map((t) => t.id!), ...(preview && { thumbnail: preview }) };
  saveNote(note);
  log(`stored “${short(text)}”${file ? ' and its photo' : ''}`);
  if (!navigator.onLine || !outbox.online) void syncWhenBack();
  void refresh();
}

const form = $<HTMLFormElement>('#note-form');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const text = (form.elements.namedItem('text') as HTMLTextAreaElement).value.trim();
  const file = (form.elements.namedItem('photo') as HTMLInputElement).files?.[0];
  const button = form.querySelector('button')!;
  if (!text || button.disabled) return;
  button.disabled = true;
  $('#form-error').textContent = '';
  try {
    await addNote(text, file);
    form.reset();
  } catch (error) {
    $('#form-error').textContent = error instanceof SluiceError ? `Not stored (${error.code}): ${error.message}` : `Not stored: ${String(error)}`;
  } finally {
    button.disabled = false;
  }
});

// ---- the service worker: the app shell offline, and delivery once every tab is closed ----

interface SyncRegistration extends ServiceWorkerRegistration {
  readonly sync?: { register(tag: string): Promise<void> };
}

/**
 * Where Background Sync exists (Chromium), asks the browser to wake the worker once the network is back, so that
 * what this tab could not send goes even if the tab is closed first. Asked only when this tab cannot deliver now:
 * a sync that fires while a tab is delivering finds the delivery lock taken, and the browser puts the next try off
 * for minutes.
 */
async function syncWhenBack(): Promise<void> {
  const registration = (await navigator.serviceWorker?.getRegistration()) as SyncRegistration | undefined;
  await registration?.sync?.register(SYNC_TAG).catch(() => undefined);
}

async function startWorker(): Promise<void> {
  const status = $('#worker');
  if (!('serviceWorker' in navigator)) {
    status.textContent = 'No service worker here: notes are sent while this page is open.';
    return;
  }
  status.textContent = 'Installing the offline copy…';
  try {
    await navigator.serviceWorker.register('/sw.js');
    await navigator.serviceWorker.ready;
    status.dataset.ready = '';
    status.textContent = 'Works offline; sends after the tab is closed where the browser has Background Sync.';
  } catch (error) {
    status.textContent = `No service worker: ${String(error)}`;
  }
}
void startWorker();

// ---- what the outbox says, live ----

function log(text: string): void {
  const list = $('#log');
  list.prepend(h('li', {}, h('time', {}, new Date().toLocaleTimeString()), ' ', text));
  while (list.children.length > 30) list.lastElementChild!.remove();
}

const short = (text: string) => (text.length > 30 ? `${text.slice(0, 29)}…` : text);
const noteText = (taskId: string) => {
  const note = loadNotes().find((n) => n.tasks.includes(taskId));
  return note ? `${taskId.startsWith('photo-') ? 'photo of ' : ''}“${short(note.text)}”` : taskId;
};

/** Wires an outbox's events to the page. */
function listen(target: Outbox): void {
  target.addEventListener('sent', (e) => {
    recordOutcome(e.detail.task.id, { outcome: 'sent', status: e.detail.status, at: Date.now() });
    log(`sent ${noteText(e.detail.task.id)} (${e.detail.status})${e.detail.remote ? ' by another tab or the worker' : ''}`);
  });
  target.addEventListener('retry', (e) => {
    const why = e.detail.status ?? e.detail.error ?? 'failed';
    log(`${noteText(e.detail.task.id)}: ${why}, next try in ${(e.detail.delayMs / 1000).toFixed(1)} s${e.detail.remote ? ' (another tab or the worker tried it)' : ''}`);
    // Only the tab that tried it asks for a sync: the others hear its retries, and do not deliver meanwhile.
    if (!e.detail.remote) void syncWhenBack();
  });
  target.addEventListener('dead', (e) => {
    log(`gave up on ${noteText(e.detail.task.id)}: ${e.detail.reason}${e.detail.status ? ` ${e.detail.status}` : ''}`);
  });
  target.addEventListener('drained', () => log('everything was delivered'));
  target.addEventListener('offline', () => log('cannot reach the server'));
  target.addEventListener('online', () => log('the server answers again'));
  target.addEventListener('error', (e) => log(`storage error: ${String(e.detail.error)}`));
  for (const type of ['change', 'sent', 'retry', 'dead', 'enqueue', 'online', 'offline', 'drained'] as const) target.addEventListener(type, () => void refresh());
}

const outbox = await Outbox.open(outboxOptions(location.origin));
listen(outbox);
// Deliver now, when tasks arrive, when retries are due, when the network returns. One tab delivers at a time (a Web
// Lock); the others only enqueue, and hear what was sent, retried or given up on. Tasks a closed tab had in flight
// are taken up at once by the tab that delivers next (the store sees the closed tab gone).
outbox.start();

addEventListener('online', () => void refresh());
addEventListener('offline', () => void refresh());
onOtherTab(() => void refresh());
// Countdowns, and tasks another tab or the worker is sending.
setInterval(() => void refresh(), 1_000);

function connectivity(): 'online' | 'offline' | 'unreachable' {
  if (!navigator.onLine) return 'offline';
  return outbox.online ? 'online' : 'unreachable';
}

const CONNECTIVITY = {
  online: 'Online',
  offline: 'Offline: notes are kept on this device',
  unreachable: 'Server unreachable: retrying',
};

async function draw(): Promise<void> {
  // Pending first, dead second: a task moving to dead in between is then seen in one of the two.
  const listed = await outbox.list();
  const pending = new Map(listed.map((task) => [task.id, task]));
  const dead = await outbox.dead.list();
  const deadByTask = new Map(dead.map((letter) => [letter.task.id, letter]));
  const stateOf = (taskId: string): TaskState => {
    const task = pending.get(taskId);
    if (task) return { kind: 'pending', task };
    const letter = deadByTask.get(taskId);
    if (letter) return { kind: 'dead', letter };
    return { kind: 'gone', outcome: outcomeOf(taskId) };
  };
  const state = connectivity();
  const badge = $('#connectivity');
  badge.dataset.state = state;
  badge.textContent = CONNECTIVITY[state];
  renderNotes($('#notes'), { notes: loadNotes(), stateOf, dead, online: state === 'online' });
  renderDead($('#dead'), $('#dead-list'), dead);
  $('#counts').textContent = `${pending.size} waiting · ${dead.length} dead`;
}

let drawing: Promise<void> | undefined;
let again = false;
/** Redraws soon; calls while a redraw runs are folded into one more. Resolves once drawn. */
function refresh(): Promise<void> {
  if (drawing) {
    again = true;
    return drawing;
  }
  drawing = (async () => {
    do {
      again = false;
      await draw();
    } while (again);
  })()
    .catch((error: unknown) => log(`could not read the outbox: ${String(error)}`))
    .finally(() => (drawing = undefined));
  return drawing;
}

// ---- the dead-letter panel ----

$('#dead').addEventListener('click', async (event) => {
  const button = (event.target as HTMLElement).closest('button');
  if (!button) return;
  const all = await outbox.dead.list();
  const chosen = button.dataset.id ? all.filter((letter) => letter.id === button.dataset.id) : all;
  const ids = chosen.map((letter) => letter.id);
  if (button.dataset.action === 'retry' || button.dataset.action === 'retry-all') {
    // All: \`retry()\` without ids, which leaves letters a newer task of the same key replaced (superseded).
    await outbox.dead.retry(button.dataset.id ? ids : undefined);
    log(`retrying ${chosen.length} dead letter${chosen.length === 1 ? '' : 's'}`);
  } else {
    for (const letter of chosen) recordOutcome(letter.task.id, { outcome: 'purged', at: Date.now() });
    await outbox.dead.purge(ids);
    log(`purged ${chosen.length} dead letter${chosen.length === 1 ? '' : 's'}`);
  }
  void refresh();
});

serverControls($<HTMLFieldSetElement>('#server'), $('#server-note'), (mode) => log(`the server is now: ${mode}`));
await refresh();
form.querySelector('button')!.disabled = false;
document.documentElement.dataset.ready = '';
