import { describe, expect, it } from 'vitest';
import { OwnCommits } from '../../../src/stores/fs/own-commits.js';

describe('OwnCommits', () => {
  it("tells a move made of this handle's commits alone from one with another handle's between them", () => {
    const own = new OwnCommits();
    own.add('1', '2');
    // Another handle: 2 to 3. Then this one again.
    own.add('3', '4');
    own.add('4', '5');
    expect(own.only('3', '5')).toBe(true);
    expect(own.only('4', '5')).toBe(true);
    expect(own.only('1', '2')).toBe(true);
    // A watcher that last read 1 (or 2) missed the other handle's commit 3: news.
    expect(own.only('1', '5')).toBe(false);
    expect(own.only('2', '4')).toBe(false);
    expect(own.only(undefined, '5')).toBe(false);
    expect(own.last).toBe('5');
  });

  it('forgets all but its latest commits, and then tells a change rather than miss one', () => {
    const own = new OwnCommits();
    for (let i = 0; i < 1000; i++) own.add(String(i), String(i + 1));
    expect(own.only('900', '1000')).toBe(true);
    expect(own.only('0', '1000')).toBe(false);
  });
});
