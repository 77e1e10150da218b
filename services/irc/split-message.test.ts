import { describe, expect, it } from 'vitest';
import { IRC_LINE_BYTES, splitMessage, textBytes } from './split-message.js';

describe('splitMessage', () => {
  it('keeps a short line as it is and drops empty lines', () => {
    expect(splitMessage('hello', 100)).toEqual(['hello']);
    expect(splitMessage('a\n\n\r\nb\r\rc', 100)).toEqual(['a', 'b', 'c']);
    expect(splitMessage('', 100)).toEqual([]);
  });

  it('never lets CR, LF or NUL through: a newline starts a new message, not a new command', () => {
    const parts = splitMessage('hi\r\nPRIVMSG NickServ :IDENTIFY x\0y', 400);
    expect(parts).toEqual(['hi', 'PRIVMSG NickServ :IDENTIFY xy']);
    for (const part of parts) expect(part).not.toMatch(/[\r\n\0]/);
  });

  it('cuts at a space in the second half of the piece when there is one', () => {
    const text = `${'word '.repeat(30)}end`;
    const parts = splitMessage(text, 50);
    for (const part of parts) expect(Buffer.byteLength(part)).toBeLessThanOrEqual(50);
    expect(parts.join(' ')).toBe(text.replace(/ +/g, ' '));
    expect(parts[0]).toBe('word word word word word word word word word word');
  });

  it('cuts on UTF-8 boundaries: no broken multi-byte character, emoji or combined grapheme', () => {
    const text = '日本語😀👍🏽é'.repeat(40);
    const parts = splitMessage(text, 31);
    expect(parts.join('')).toBe(text);
    for (const part of parts) {
      expect(Buffer.byteLength(part)).toBeLessThanOrEqual(31);
      expect(Buffer.from(part, 'utf8').toString('utf8')).toBe(part);
      expect(part).not.toMatch(/^[\u{1F3FB}-\u{1F3FF}\u0301]/u); // no piece starts with a modifier
    }
  });

  it('still cuts a grapheme longer than the limit (stacked combining marks), by code points', () => {
    const zalgo = `a${'\u0301'.repeat(100)}`;
    const parts = splitMessage(zalgo, 20);
    expect(parts.join('')).toBe(zalgo);
    for (const part of parts) expect(Buffer.byteLength(part)).toBeLessThanOrEqual(20);
  });
});

describe('textBytes', () => {
  it('leaves room for the relayed prefix, the command, the target and CRLF within 512 bytes', () => {
    const room = textBytes('PRIVMSG', '#ops', 9);
    const worstLine = `:${'n'.repeat(9)}!${'u'.repeat(10)}@${'h'.repeat(63)} PRIVMSG #ops :${'x'.repeat(room)}\r\n`;
    expect(Buffer.byteLength(worstLine)).toBe(IRC_LINE_BYTES);
  });
});
