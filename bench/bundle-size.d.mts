export const root: string;

export interface SizeRow {
  readonly name: string;
  /** The app's entry: what it imports from sluice. */
  readonly source: string;
  /** Issue #9's budget, gzipped bytes. */
  readonly budget?: number;
  /** What `npm test` holds the row to, gzipped bytes. */
  readonly limit?: number;
}

export const rows: readonly SizeRow[];
export function built(): boolean;
export function measure(source: string): Promise<{ min: number; gzip: number; missing?: undefined } | { missing: string; min?: undefined; gzip?: undefined }>;
export function kb(bytes: number): string;
