import { describe, expect, it } from 'vitest';
import { nextHop, redirectOf } from '../../src/outbox/redirects.js';
import { errorText, scrub } from '../../src/outbox/scrub.js';

describe('redirectOf()', () => {
  it('a 3xx with Location is a redirect; a 304, a 3xx without Location or a 2xx is final', () => {
    expect(redirectOf(new Response(null, { status: 302, headers: { location: '/x' } }))).toEqual({ status: 302, location: '/x' });
    expect(redirectOf(new Response(null, { status: 304 }))).toBeUndefined();
    expect(redirectOf(new Response(null, { status: 300 }))).toBeUndefined();
    expect(redirectOf(new Response(null, { status: 200, headers: { location: '/x' } }))).toBeUndefined();
  });

  it("a browser's opaque redirect (status 0, no headers) is a redirect whose Location is unknown", () => {
    const opaque = { type: 'opaqueredirect', status: 0, headers: new Headers() } as Response;
    expect(redirectOf(opaque)).toEqual({ status: 0 });
  });
});

describe('nextHop()', () => {
  const from = 'https://api.test/v1/notes';
  it('follows within the origin only (scheme, host and port)', () => {
    expect(nextHop(from, 'POST', { status: 307, location: '/v2/notes' })).toEqual({ url: 'https://api.test/v2/notes', method: 'POST', hasBody: true });
    expect(nextHop(from, 'POST', { status: 307, location: 'http://api.test/v2' })).toBeUndefined();
    expect(nextHop(from, 'POST', { status: 307, location: 'https://api.test:8443/v2' })).toBeUndefined();
    expect(nextHop(from, 'POST', { status: 307, location: 'https://evil.test/v2' })).toBeUndefined();
    expect(nextHop(from, 'POST', { status: 307, location: '//evil.test/v2' })).toBeUndefined();
    expect(nextHop(from, 'POST', { status: 0 })).toBeUndefined();
  });

  it('changes the method as fetch does', () => {
    const hop = (status: number, method: string) => nextHop(from, method, { status, location: '/r' });
    expect(hop(301, 'POST')).toMatchObject({ method: 'GET', hasBody: false });
    expect(hop(302, 'POST')).toMatchObject({ method: 'GET', hasBody: false });
    expect(hop(302, 'PUT')).toMatchObject({ method: 'PUT', hasBody: true });
    expect(hop(303, 'PUT')).toMatchObject({ method: 'GET', hasBody: false });
    expect(hop(303, 'HEAD')).toMatchObject({ method: 'HEAD' });
    expect(hop(308, 'PATCH')).toMatchObject({ method: 'PATCH', hasBody: true });
  });
});

describe('scrub() and errorText()', () => {
  it('replaces secrets, and each line of a secret with a line break, but not short parts (a short value only where it stands alone)', () => {
    expect(scrub('bad value "Bearer abc123" here', ['Bearer abc123'])).toBe('bad value "[redacted]" here');
    expect(scrub('got "tok3n-part" then "second-part"', ['tok3n-part\r\nsecond-part'])).toBe('got "[redacted]" then "[redacted]"');
    expect(scrub('a b c', ['a b c d'])).toBe('a b c');
    expect(scrub('a b cab', ['a'])).toBe('[redacted] b cab');
  });

  it("adds the cause's message (fetch says why only there), scrubbed too", () => {
    const error = new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:9 (key s3cr3t-value)') });
    expect(errorText(error, ['s3cr3t-value'])).toBe('fetch failed (connect ECONNREFUSED 127.0.0.1:9 (key [redacted]))');
  });
});
