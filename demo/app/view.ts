// Drawing the page from what the outbox says: each note's tasks with their state, and the dead letters.
import type { DeadLetter, PendingTask } from 'sluice';
import type { NoteRecord, Outcome } from './notes';

/** Where a task is: in the outbox (with its state there), among the dead letters, or gone (sent or purged). */
export type TaskState =
  | { readonly kind: 'pending'; readonly task: PendingTask }
  | { readonly kind: 'dead'; readonly letter: DeadLetter }
  | { readonly kind: 'gone'; readonly outcome: Outcome | undefined };

export interface Model {
  readonly notes: readonly NoteRecord[];
  readonly stateOf: (taskId: string) => TaskState;
  readonly dead: readonly DeadLetter[];
  readonly online: boolean;
}

type Child = Node | string | false | undefined;

/** A DOM element: `h('p', { class: 'x' }, 'text')`. */
export function h(tag: string, attributes: Record<string, string | number | boolean | undefined> = {}, ...children: Child[]): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) if (child !== undefined && child !== false) element.append(child);
  return element;
}

const time = (at: number) => new Date(at).toLocaleTimeString();
const seconds = (at: number) => Math.max(0, Math.ceil((at - Date.now()) / 1000));

/** A task's state in words, and the name tests and styles key on (`data-state`). */
export function describeState(state: TaskState, online: boolean): { name: string; text: string; status?: number } {
  if (state.kind === 'dead') {
    const { reason, status, attempts } = state.letter;
    return { name: 'dead', text: `dead: ${reason}${status ? ` ${status}` : ''} after ${attempts} attempt${attempts === 1 ? '' : 's'}`, status };
  }
  if (state.kind === 'gone') {
    if (state.outcome?.outcome === 'purged') return { name: 'purged', text: 'purged from the dead letters' };
    const status = state.outcome?.status;
    return { name: 'sent', text: `sent${status ? ` (${status})` : ''}`, status };
  }
  const task = state.task;
  const last = task.lastStatus ?? task.lastError;
  const lastText = last === undefined ? '' : ` · last try: ${last}`;
  switch (task.state) {
    case 'sending':
      return { name: 'sending', text: 'sending…' };
    case 'retrying':
      return {
        name: 'retrying',
        text: `retrying at ${time(task.nextAttemptAt!)} (in ${seconds(task.nextAttemptAt!)} s)${lastText}`,
        status: task.lastStatus,
      };
    case 'scheduled':
      return { name: 'scheduled', text: `scheduled for ${time(task.nextAttemptAt!)}` };
    default:
      return { name: 'pending', text: online ? `pending${lastText}` : 'pending: waiting for the network' };
  }
}

export function renderNotes(list: HTMLElement, model: Model): void {
  const items = [...model.notes].reverse().map((note) => {
    const tasks = note.tasks.map((taskId, i) => {
      const state = describeState(model.stateOf(taskId), model.online);
      return h('li', { class: `task ${state.name}`, 'data-task': taskId, 'data-state': state.name, 'data-status': state.status }, h('b', {}, i === 0 ? 'note' : 'photo'), ' ', state.text);
    });
    return h(
      'li',
      { class: 'note', 'data-note': note.id },
      note.thumbnail && h('img', { src: note.thumbnail, alt: 'photo' }),
      h('div', {}, h('p', { class: 'text' }, note.text), h('p', { class: 'when' }, `written ${time(note.createdAt)}`), h('ul', { class: 'tasks' }, ...tasks)),
    );
  });
  list.replaceChildren(...(items.length ? items : [h('li', { class: 'empty' }, 'No notes yet. Write one: it is kept on this device until the server has it.')]));
}

export function renderDead(section: HTMLElement, list: HTMLElement, dead: readonly DeadLetter[]): void {
  section.hidden = dead.length === 0;
  list.replaceChildren(
    ...dead.map((letter) =>
      h(
        'li',
        { 'data-dead': letter.id, 'data-task': letter.task.id, 'data-reason': letter.reason },
        h('span', {}, `${letter.task.method} ${new URL(letter.task.url).pathname}`, h('br'), h('small', {}, `${letter.reason}${letter.status ? ` ${letter.status}` : ''}${letter.error ? ` (${letter.error})` : ''} · ${letter.attempts} attempt${letter.attempts === 1 ? '' : 's'} · ${time(letter.at)}`)),
        h('button', { type: 'button', 'data-action': 'retry', 'data-id': letter.id }, 'Retry'),
        h('button', { type: 'button', 'data-action': 'purge', 'data-id': letter.id }, 'Purge'),
      ),
    ),
  );
}
