import { describe, expect, it } from 'vitest';
import { capText, errorText, MAX_ERROR_TEXT, scrub } from '../../src/outbox/scrub.js';

describe('scrub()', () => {
  it('a message quoting only a word of the value (the token of "Bearer <token>", a cookie) is scrubbed too; the scheme is kept', () => {
    const secrets = ['Bearer tok-ABCDEFG123', 'sid=s3ss10n-value; theme=dark'];
    expect(scrub('proxy refused credentials tok-ABCDEFG123', secrets)).toBe('proxy refused credentials [redacted]');
    expect(scrub('Bearer tok-ABCDEFG123 is not valid', secrets)).toBe('[redacted] is not valid');
    expect(scrub('expected Bearer auth', secrets)).toBe('expected Bearer auth');
    expect(scrub('unknown session s3ss10n-value', secrets)).toBe('unknown session [redacted]');
  });

  it('a value echoed into a URL, encoded as a path or query part is or as a form is, is scrubbed too', () => {
    const basic = 'Basic YWxpY2U6cGE+c3M/d29yZA==';
    expect(scrub('https://login.test/cb?auth=Basic%20YWxpY2U6cGE%2Bc3M%2Fd29yZA%3D%3D&x=1', [basic])).toBe('https://login.test/cb?auth=[redacted]&x=1');
    expect(scrub('https://login.test/cb?auth=Basic+YWxpY2U6cGE%2Bc3M%2Fd29yZA%3D%3D', [basic])).toBe('https://login.test/cb?auth=[redacted]');
    expect(scrub('https://login.test/cb?t=YWxpY2U6cGE%2Bc3M%2Fd29yZA%3D%3D', [basic])).toBe('https://login.test/cb?t=[redacted]');
    expect(scrub("https://login.test/cb?t=tok.en_with~sym%24bols!", ['Bearer tok.en_with~sym$bols!'])).toBe('https://login.test/cb?t=[redacted]');
    // A value no URL can encode (a lone surrogate: a token cut mid-emoji) is still scrubbed as it stands, never thrown on.
    expect(scrub('refused tok-abcdef\uD83D here', ['tok-abcdef\uD83D'])).toBe('refused [redacted] here');
  });

  it('a value split over lines is scrubbed line by line; parts under 4 characters are left', () => {
    expect(scrub('got "line-one" then "line-two"', ['line-one\nline-two'])).toBe('got "[redacted]" then "[redacted]"');
    expect(scrub('a b c', ['a b c d'])).toBe('a b c');
  });

  it('a short secret (a value, or the credentials after a scheme) is redacted where it stands alone, never inside a word', () => {
    expect(scrub('header value "k9z" refused', ['k9z'])).toBe('header value "[redacted]" refused');
    expect(scrub('token abc expired; see abcdef', ['Bearer abc'])).toBe('token [redacted] expired; see abcdef');
    expect(scrub('Bearer abc', ['Bearer abc'])).toBe('[redacted]');
    expect(scrub('abc', [' '])).toBe('abc');
  });

  it('error text is scrubbed whole, then cut to MAX_ERROR_TEXT characters with a marker; a character of two units is never split', () => {
    const secret = 'tok-' + 'S'.repeat(40);
    const text = errorText(new Error('y'.repeat(MAX_ERROR_TEXT - 30) + secret + 'z'.repeat(10_000)), [secret]);
    expect(text).toHaveLength(MAX_ERROR_TEXT);
    expect(text).not.toContain('SSSS');
    expect(text).toMatch(/… \[\d+ characters cut\]$/);
    expect(capText('short')).toBe('short');
    const emoji = capText('😀'.repeat(MAX_ERROR_TEXT));
    expect(emoji.length).toBeLessThanOrEqual(MAX_ERROR_TEXT);
    expect(emoji).toMatch(/^(?:😀)+… \[\d+ characters cut\]$/u);
  });
});
