import { join } from 'node:path';
import { closeSync, constants, ftruncateSync, openSync, renameSync } from 'node:fs';
import type { StorageBatch } from '../../core/store.js';
import { type Descriptors, type FileState, identityOf, stateOf } from './descriptors.js';
import { closeQuiet, errno, type FileSync, readRange, segmentFile, segmentName, syncDir, unlinkQuiet, writeAll } from './files.js';
import type { CommitCounter, Tail } from './counter.js';
import { createFile, NOFOLLOW } from './permissions.js';
import { fileId } from './process-id.js';
import { Reserve } from './reserve.js';
import { Undo } from './undo.js';

/** Files as a handle knows them: name → `identity:size` (see `FileState`). */
export type Known = Map<string, string>;

/** Files as a commit found them under the lock, by name; `state` undefined when there is none. */
export type Looked = { readonly name: string; readonly state: FileState | undefined }[];

/** The tail a commit that removes segments records in the commit counter first (see `CommitCounter.setTail`). */
export interface TailRecord {
  readonly counter: CommitCounter;
  readonly tail: Tail;
}

const stateIn = (looked: Looked, name: string) => looked.find((file) => file.name === name)?.state;

/** A file's state as `Known` records it. */
export const describeState = (state: FileState): string => `${state.identity}:${state.size}`;

/**
 * Writes one commit's batch into a queue directory, under the lock, in the order that keeps every crash point
 * recoverable. Keeps the segment descriptors and the `meta` descriptor (for appends) between commits, each checked
 * against the file its path names before use.
 */
export class BatchWriter {
  readonly #dir: string;
  readonly #tag: string;
  readonly #fds: Descriptors;
  readonly #sync: FileSync;
  readonly #mode: number;
  readonly #reserve: Reserve;
  /** The metadata file, open for appends (or, where the file system refuses writing, for reading only). */
  #meta: { fd: number; identity: string; writable: boolean } | undefined;

  /** New files are made with `mode`; `tag` names this process in temp files' names (see `fileTag`). */
  constructor(dir: string, tag: string, fds: Descriptors, sync: FileSync, mode: number) {
    this.#dir = dir;
    this.#mode = mode;
    this.#tag = tag;
    this.#fds = fds;
    this.#sync = sync;
    this.#reserve = new Reserve(dir, mode);
  }

  /**
   * The files `batch` writes, as they are now: `meta` (when the batch writes it) and the segment written to. The
   * caller compares them with what it knows, and passes them to `fits` and `apply`. Segments removed need no look:
   * removing what is already gone changes nothing.
   */
  look(batch: StorageBatch): Looked {
    const looked: Looked = [];
    if (batch.meta || batch.metaAppend) looked.push({ name: 'meta', state: stateOf(join(this.#dir, 'meta')) });
    if (batch.write) {
      const name = segmentName(batch.write.segment);
      looked.push({ name, state: stateOf(join(this.#dir, name)) });
    }
    return looked;
  }

  /**
   * False when `batch` cannot be applied to the files as they are: a write or an append past the end of its file, or
   * into a file that is not there, was planned on a view of files that have since been cut or removed outside any
   * commit. Written anyway, it would leave a hole of zeros, or land in a new file nobody reads.
   */
  fits(batch: StorageBatch, looked: Looked): boolean {
    if (batch.write && batch.write.offset > (stateIn(looked, segmentName(batch.write.segment))?.size ?? 0)) return false;
    if (batch.metaAppend) {
      const now = stateIn(looked, 'meta');
      if (!now || batch.metaAppend.offset > now.size) return false;
    }
    return true;
  }

  /**
   * Applies `batch` (which `fits`) and records what it made in `known`, when given. `synced` runs each sync, so
   * that the caller can make an fsync failure fatal. `removal` is the tail to record in the commit counter before
   * any segment is removed.
   */
  async apply(
    batch: StorageBatch,
    looked: Looked,
    known: Known | undefined,
    synced: (sync: () => Promise<void>) => Promise<void>,
    removal?: TailRecord,
  ): Promise<void> {
    // Order matters for a crash at any point: data, then the metadata that may refer to it, then removals of what
    // the new metadata no longer needs (go-diskqueue deleted first, and its depth drifted).
    const strict = batch.durability === 'strict';
    const removing = (batch.remove?.length ?? 0) + (batch.quarantine?.length ?? 0) > 0;
    // On a full disk, a commit that adds no item is made again once the reserve made room (see `Reserve`).
    let dirChanged = await this.#reserve.commit(batch, removing, async () => {
      const undo = new Undo(this.#sync);
      // The segment written stays open until its sync, and any undo, is done (see `Descriptors`).
      const pins: (() => void)[] = [];
      try {
        return await this.#write(batch, looked, known, synced, undo, pins);
      } catch (error) {
        // A commit that rejects leaves nothing: its pushes would be delivered later.
        throw await undo.run(error, strict, this.#dir);
      } finally {
        for (const unpin of pins) unpin();
      }
    });
    // The commit is in; what follows removes only what its metadata no longer needs.
    // Segments go only once the metadata that no longer needs them is durable (rare: when a segment is freed).
    if (strict && dirChanged && removing) {
      // After the commit, a directory that cannot be opened is a sync that did not happen, as a failed one: the
      // commit is in, and saying it failed while the handle went on would be a lie either way.
      await synced(() => syncDir(this.#dir, this.#sync));
      dirChanged = false;
    }
    let freeing = removing;
    if (removing && removal) {
      try {
        removal.counter.setTail(removal.tail);
      } catch {
        // Refused (a full copy-on-write disk): the commit is in (an ack, a clear), and rejecting would say it failed.
        // What it freed stays on disk till a later ack removes it (see `Segments.freeable`).
        freeing = false;
      }
      // Durable before the removal: an older record that outlived a power cut would name a segment no longer
      // there, and the next open would report its items lost. Only here: an ordinary commit never syncs `commits`.
      if (freeing && strict) await synced(() => removal.counter.sync(this.#sync));
    }
    for (const id of freeing ? (batch.remove ?? []) : []) {
      this.#fds.forget(id);
      unlinkQuiet(segmentFile(this.#dir, id));
      known?.delete(segmentName(id));
      dirChanged = true;
    }
    for (const id of freeing ? (batch.quarantine ?? []) : []) {
      this.#fds.forget(id);
      const path = segmentFile(this.#dir, id);
      try {
        renameSync(path, `${path}.bad`);
      } catch (error) {
        // Already gone: nothing is left to set aside.
        if (errno(error) !== 'ENOENT') throw error;
      }
      known?.delete(segmentName(id));
      dirChanged = true;
    }
    if (strict && dirChanged) await synced(() => syncDir(this.#dir, this.#sync));
  }

  /**
   * Writes `batch`'s data and metadata, each step recorded in `undo` before it begins. Says whether the directory
   * changed (a new metadata file renamed into place).
   */
  async #write(
    batch: StorageBatch,
    looked: Looked,
    known: Known | undefined,
    synced: (sync: () => Promise<void>) => Promise<void>,
    undo: Undo,
    pins: (() => void)[],
  ): Promise<boolean> {
    const strict = batch.durability === 'strict';
    if (batch.write) {
      const { segment, offset, bytes } = batch.write;
      const name = segmentName(segment);
      const now = stateIn(looked, name);
      const created = now === undefined;
      const kept = created ? this.#fds.create(segment) : this.#fds.open(segment, now)!;
      pins.push(this.#fds.pin(kept));
      const { fd, identity } = kept;
      // Back to where this commit began: what lay past `offset` is a torn tail the Queue is dropping.
      if (created) undo.made(segmentFile(this.#dir, segment), () => this.#fds.forget(segment));
      else undo.cut(fd, identity, segmentFile(this.#dir, segment), offset);
      writeAll(fd, bytes, offset);
      // A write at an earlier offset cuts what lay past it (the Queue dropping a torn tail).
      const end = offset + bytes.length;
      if ((now?.size ?? 0) > end) ftruncateSync(fd, end);
      known?.set(name, `${identity}:${end}`);
      // A new file's name is durable only once its directory is synced. Both syncs at once: they are independent,
      // and both are done before the metadata that may count on them, and before the commit resolves. Both settle
      // before a failure goes on: the directory refused (EMFILE) while the segment's sync was still running, the undo
      // would close the new segment under that sync, which then failed (EBADF) and made the handle unusable for good.
      if (strict) {
        const settled = await Promise.allSettled([synced(() => this.#sync.fdatasync(fd)), created && syncDir(this.#dir, this.#sync, synced)]);
        for (const result of settled) if (result.status === 'rejected') throw result.reason;
      }
    }
    if (batch.metaAppend) {
      // In place: a torn append is a frame the Queue's reader drops, so it needs no temp file and rename.
      const { offset, bytes } = batch.metaAppend;
      const now = stateIn(looked, 'meta')!;
      if (this.#meta?.identity !== now.identity || !this.#meta.writable) {
        this.forgetMeta();
        const fd = openSync(join(this.#dir, 'meta'), constants.O_RDWR | NOFOLLOW);
        this.#meta = { fd, identity: identityOf(fd), writable: true };
      }
      const { fd, identity } = this.#meta;
      undo.cut(fd, identity, join(this.#dir, 'meta'), offset);
      writeAll(fd, bytes, offset);
      const end = offset + bytes.length;
      if (now.size > end) ftruncateSync(fd, end);
      known?.set('meta', `${identity}:${end}`);
      if (strict) await synced(() => this.#sync.fdatasync(fd));
    }
    if (!batch.meta) return false;
    this.forgetMeta();
    // Written under a temp name, then renamed over the old: the whole state is replaced only now and then (a
    // take or an ack appends), so the create this costs is rare.
    const tmp = join(this.#dir, `meta.${fileId(this.#tag)}.tmp`);
    const fd = createFile(tmp, constants.O_WRONLY, this.#mode);
    try {
      let identity: string;
      try {
        writeAll(fd, batch.meta, 0);
        identity = identityOf(fd);
        if (strict) await synced(() => this.#sync.fsync(fd));
      } finally {
        closeSync(fd);
      }
      // The rename even when relaxed: a reader sees the old metadata or the new one, never a mix.
      renameSync(tmp, join(this.#dir, 'meta'));
      known?.set('meta', `${identity}:${batch.meta.length}`);
    } catch (error) {
      unlinkQuiet(tmp);
      throw error;
    }
    return true;
  }

  /**
   * The metadata file's content and state, read through the descriptor kept for appends when it still names the
   * file at the path (one `lstat` and one read, no `open`); undefined when there is none.
   */
  readMeta(): { bytes: Uint8Array; state: FileState } | undefined {
    const state = stateOf(join(this.#dir, 'meta'));
    if (!state) return undefined;
    if (this.#meta?.identity !== state.identity) {
      this.forgetMeta();
      const path = join(this.#dir, 'meta');
      let fd: number;
      let writable = true;
      try {
        try {
          fd = openSync(path, constants.O_RDWR | NOFOLLOW);
        } catch (error) {
          // A read-only file system (or file) can still be read: a commit then opens it again, and fails as it must.
          if (!['EROFS', 'EACCES', 'EPERM'].includes(errno(error))) throw error;
          fd = openSync(path, constants.O_RDONLY | NOFOLLOW);
          writable = false;
        }
      } catch (error) {
        if (errno(error) === 'ENOENT') return undefined;
        throw error;
      }
      this.#meta = { fd, identity: identityOf(fd), writable };
    }
    const { fd, identity } = this.#meta;
    // Under the lock nobody writes it; the size read through the descriptor is the size of what was read.
    const bytes = readRange(fd, 0, state.size);
    return { bytes, state: { identity, size: bytes.length } };
  }

  forgetMeta(): void {
    if (this.#meta) closeQuiet(this.#meta.fd);
    this.#meta = undefined;
  }
}

/** True when `batch`, applied to the files as `looked` found them, makes and removes no segment file. */
export function sameSegments(batch: StorageBatch, looked: Looked): boolean {
  if ((batch.remove?.length ?? 0) + (batch.quarantine?.length ?? 0) > 0) return false;
  return !batch.write || looked.some(({ name, state }) => name === segmentName(batch.write!.segment) && state !== undefined);
}

export function sameFiles(a: Known, b: Known): boolean {
  return a.size === b.size && [...a].every(([name, state]) => b.get(name) === state);
}

/** The newest segment once `batch` is in, given the one recorded before: `null` when none is left. */
export function tailAfter(before: Tail, batch: StorageBatch): Tail | null {
  let tail: Tail | null = before;
  const gone = [...(batch.remove ?? []), ...(batch.quarantine ?? [])];
  if (tail && gone.includes(tail.id)) tail = null;
  const { write } = batch;
  if (write && (!tail || write.segment >= tail.id)) tail = { id: write.segment, length: write.offset + write.bytes.length };
  return tail;
}
