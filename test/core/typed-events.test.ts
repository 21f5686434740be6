import { describe, expect, it } from 'vitest';
import { TypedEventTarget } from '../../src/core/typed-events.js';

class Target extends TypedEventTarget<{ ping: Event }> {
  made = 0;
  ping(): void {
    this.dispatchHeard('ping', () => (this.made++, new Event('ping')));
  }
}

describe('TypedEventTarget.dispatchHeard', () => {
  it('builds no event for a type nobody ever listened to, and dispatches from the first listener on', () => {
    const target = new Target();
    target.ping();
    expect(target.made).toBe(0);
    const heard: string[] = [];
    const listener = (e: Event) => heard.push(e.type);
    target.addEventListener('ping', listener);
    target.ping();
    expect(heard).toEqual(['ping']);
    // A listener gone (removed, `once`, a signal) leaves the type heard: events are built, for nobody, as before.
    target.removeEventListener('ping', listener);
    target.ping();
    expect([target.made, heard.length]).toEqual([2, 1]);
  });

  it('counts a listener added with `once` or a signal, and ignores a null one', () => {
    const target = new Target();
    target.addEventListener('ping', null);
    target.ping();
    expect(target.made).toBe(0);
    let heard = 0;
    target.addEventListener('ping', () => heard++, { once: true });
    target.ping();
    target.ping();
    expect([target.made, heard]).toEqual([2, 1]);
  });
});
