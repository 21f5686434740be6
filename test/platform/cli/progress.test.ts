import { describe, expect, it } from 'vitest';
import { Progress } from '../../../src/platform/cli/progress.js';

const terminal = (isTTY: boolean) => {
  const writes: string[] = [];
  return { writes, sink: { isTTY, columns: 80, write: (text: string) => void writes.push(text) } };
};

describe('Progress', () => {
  it('.update() draws on a TTY at most every 100 ms, and always the end', () => {
    const { writes, sink } = terminal(true);
    let now = 0;
    const progress = new Progress(sink, 'Draining q', 1000, () => now);
    progress.update(10);
    now = 50;
    progress.update(20);
    now = 150;
    progress.update(30);
    now = 160;
    progress.update(1000);
    expect(writes).toEqual([
      '\rDraining q [------------------------------] 1% 10/1000',
      '\rDraining q [#-----------------------------] 3% 30/1000',
      '\rDraining q [##############################] 100% 1000/1000',
    ]);
  });

  it('.clear() wipes a drawn bar once; the next .update() draws it again at once', () => {
    const { writes, sink } = terminal(true);
    const progress = new Progress(sink, 'q', 10, () => 0);
    progress.clear();
    expect(writes).toEqual([]);
    progress.update(1);
    progress.clear();
    progress.clear();
    progress.update(2);
    expect(writes).toEqual(['\rq [###---------------------------] 10% 1/10', '\r\x1b[2K', '\rq [######------------------------] 20% 2/10']);
  });

  it('draws nothing where stderr is no TTY (a pipe, a file, a script)', () => {
    const { writes, sink } = terminal(false);
    const progress = new Progress(sink, 'q', 10);
    progress.update(10);
    progress.clear();
    expect(writes).toEqual([]);
  });

  it('cuts the line to the terminal width', () => {
    const writes: string[] = [];
    const progress = new Progress({ isTTY: true, columns: 20, write: (text) => void writes.push(text) }, 'a long label', 10);
    progress.update(5);
    expect(writes[0]).toHaveLength(1 + 19);
  });
});
