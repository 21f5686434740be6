// A note's photo: made small enough to upload over a weak network, and turned into an outbox task.
import type { HttpTask } from 'sluice';

/**
 * The photo's upload: a PUT of the image to its note, in the note's group so that it goes after the note. The Blob
 * is the body: the outbox stores it beside the task, a chunk at a time, and sends it with its type.
 */
export function photoTask(noteId: string, image: Blob, group: string): HttpTask {
  return {
    id: `photo-${noteId}`,
    url: `/api/notes/${encodeURIComponent(noteId)}/photo`,
    method: 'PUT',
    headers: { 'content-type': image.type || 'application/octet-stream' },
    body: image,
    group,
  };
}

/**
 * Largest photo sent as it is. The outbox would store a camera's 4 MB photo whole (a body up to `maxBodyBytes`,
 * 50 MiB by default), but a field app scales it down first, to upload over a weak network in seconds, not minutes.
 */
const KEEP_BYTES = 600_000;
const MAX_SIDE = [1600, 1200, 800];

/** The image to upload: `file` itself when small, else a JPEG scaled down until it fits. */
export async function preparePhoto(file: Blob): Promise<Blob> {
  if (file.size <= KEEP_BYTES) return file;
  const bitmap = await createImageBitmap(file);
  try {
    for (const side of MAX_SIDE) {
      const scaled = await draw(bitmap, side, 'image/jpeg', 0.8);
      if (scaled.size <= KEEP_BYTES) return scaled;
    }
  } finally {
    bitmap.close();
  }
  throw new Error('This photo is too large to upload, even scaled down.');
}

/** A small JPEG preview as a data: URL, for the list (kept with the note on this device). */
export async function thumbnail(image: Blob): Promise<string | undefined> {
  try {
    const bitmap = await createImageBitmap(image);
    const small = await draw(bitmap, 160, 'image/jpeg', 0.7);
    bitmap.close();
    return await new Promise<string>((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result as string);
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(small);
    });
  } catch {
    return undefined; // Not an image this browser can decode: the note goes without a preview.
  }
}

async function draw(bitmap: ImageBitmap, maxSide: number, type: string, quality: number): Promise<Blob> {
  const scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext('2d')!.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return await new Promise<Blob>((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('could not encode the photo'))), type, quality));
}
