// The app's own record of the notes written on this device: what the list shows (text, thumbnail) and which
// outbox tasks carry each note. The outbox keeps the requests, and never hands their bodies back for display.
//
// Kept in localStorage, one key per note, so that two tabs writing at once never overwrite each other's notes, and
// each tab hears the other's through the 'storage' event. (A larger app would keep them in IndexedDB.)

export interface NoteRecord {
  readonly id: string;
  readonly text: string;
  readonly createdAt: number;
  /** A small preview of the photo (a data: URL); the photo itself travels in the outbox. */
  readonly thumbnail?: string;
  /** The outbox task ids (their Idempotency-Keys): the note's POST, then the photo's PUT. */
  readonly tasks: readonly string[];
}

/**
 * How a task that left the outbox ended, as this device saw it: sent (the 'sent' event's status), or purged from
 * the dead letters. A task that is neither pending nor dead, without a mark, was sent while no tab was open (by the
 * service worker): nothing leaves an outbox otherwise.
 */
export interface Outcome {
  readonly outcome: 'sent' | 'purged';
  readonly status?: number;
  readonly at: number;
}

const NOTE = 'field-notes:note:';
const OUTCOME = 'field-notes:outcome:';

export function loadNotes(): NoteRecord[] {
  const notes: NoteRecord[] = [];
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i);
    if (!key?.startsWith(NOTE)) continue;
    try {
      notes.push(JSON.parse(localStorage.getItem(key)!) as NoteRecord);
    } catch {
      // A record another version wrote: not ours to show.
    }
  }
  return notes.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
}

export function saveNote(note: NoteRecord): void {
  localStorage.setItem(NOTE + note.id, JSON.stringify(note));
}

export function recordOutcome(taskId: string, outcome: Outcome): void {
  localStorage.setItem(OUTCOME + taskId, JSON.stringify(outcome));
}

export function outcomeOf(taskId: string): Outcome | undefined {
  const text = localStorage.getItem(OUTCOME + taskId);
  return text ? (JSON.parse(text) as Outcome) : undefined;
}

/** Calls `listener` when another tab adds a note or records an outcome. */
export function onOtherTab(listener: () => void): void {
  addEventListener('storage', (event) => {
    if (event.key === null || event.key.startsWith(NOTE) || event.key.startsWith(OUTCOME)) listener();
  });
}
