import { describe, expect, it } from 'vitest';
import { Holds } from '../../src/core/holds.js';

describe('Holds (the lease index)', () => {
  it('.add() takes items from whatever held them; sizes, leases and owners follow', () => {
    const holds = new Holds();
    const a = holds.add({ lease: 'a', owner: 'x', until: 100, ranges: [[0, 10]] });
    const b = holds.add({ lease: 'b', owner: 'y', until: 200, ranges: [[5, 15]] });
    expect(a.size).toBe(5);
    expect(b.size).toBe(10);
    expect(holds.at(3, 0)).toBe(a);
    expect(holds.at(7, 0)).toBe(b);
    expect(holds.at(7, 200)).toBeUndefined();
    expect(holds.lease('a')).toBe(a);
    expect([...holds.owners()].sort()).toEqual(['x', 'y']);
    expect(holds.pieces(a)).toEqual([[0, 5]]);
  });

  it('.pieces() is a hold\'s ranges while it holds them whole, and what is left of them after', () => {
    const holds = new Holds();
    const a = holds.add({ lease: 'a', owner: 'x', until: 100, ranges: [[0, 4], [10, 14]] });
    expect(holds.pieces(a)).toEqual([[0, 4], [10, 14]]);
    holds.remove([[2, 3]]);
    expect(holds.pieces(a)).toEqual([[0, 2], [3, 4], [10, 14]]);
    holds.add({ lease: 'b', owner: 'x', until: 100, ranges: [[12, 20]] });
    expect(holds.pieces(a)).toEqual([[0, 2], [3, 4], [10, 12]]);
  });

  it('.skip() jumps over every held item at once, whatever holds it', () => {
    const holds = new Holds();
    for (let i = 0; i < 10_000; i++) holds.add({ lease: `l${i}`, owner: 'x', until: 100, ranges: [[i, i + 1]] });
    expect(holds.skip(0)).toBe(10_000);
    expect(holds.skip(10_000)).toBe(10_000);
    holds.remove([[500, 501]]);
    expect(holds.skip(0)).toBe(500);
    expect(holds.lease('l500')).toBeUndefined();
    expect(holds.count(0, 20_000)).toBe(9_999);
  });

  it('.expire() ends holds whose time is up, earliest first; .nextEnd() says when the next ends', () => {
    const holds = new Holds();
    holds.add({ lease: 'late', owner: 'x', until: 300, ranges: [[0, 1]] });
    holds.add({ lease: 'soon', owner: 'x', until: 100, ranges: [[1, 2]] });
    holds.add({ lease: '', owner: '', until: 200, ranges: [[2, 3]] });
    expect(holds.nextEnd()).toBe(100);
    holds.expire(250);
    expect(holds.lease('soon')).toBeUndefined();
    expect(holds.at(2, 0)).toBeUndefined();
    expect(holds.at(0, 0)?.lease).toBe('late');
    expect(holds.nextEnd()).toBe(300);
  });

  it('.dropOwner() ends every hold of an owner and nothing else', () => {
    const holds = new Holds();
    holds.add({ lease: 'a', owner: 'gone', until: 100, ranges: [[0, 2]] });
    holds.add({ lease: 'b', owner: 'live', until: 100, ranges: [[2, 4]] });
    holds.add({ lease: 'c', owner: 'gone', until: 100, ranges: [[4, 6]] });
    holds.dropOwner('gone');
    expect([...holds.owners()]).toEqual(['live']);
    expect(holds.skip(0)).toBe(0);
    expect(holds.skip(2)).toBe(4);
    expect([...holds.all()].map((h) => h.lease)).toEqual(['b']);
  });

  it('emptied holds do not pile up: many short leases acked at once leave a small heap', () => {
    const holds = new Holds();
    for (let i = 0; i < 100_000; i++) {
      holds.add({ lease: `l${i}`, owner: 'x', until: 1_000 + i, ranges: [[i, i + 1]] });
      holds.remove([[i, i + 1]]);
    }
    expect([...holds.all()]).toEqual([]);
    expect(holds.nextEnd()).toBe(Infinity);
  });
});
