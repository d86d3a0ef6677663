/**
 * Sizes of text people and models send, in UTF-8 bytes (what the database and Slack's
 * limits count), and a cut that never splits a character.
 */

export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * `text` cut to at most `maxBytes` bytes of UTF-8, at a character boundary (never inside a
 * surrogate pair). Linear in the length of the text.
 */
export function cutToBytes(text: string, maxBytes: number): string {
  if (maxBytes <= 0) return '';
  // Every UTF-16 unit is at most 3 bytes of UTF-8 (a pair, two units, is 4): short texts fit as they are.
  if (text.length * 3 <= maxBytes || utf8Bytes(text) <= maxBytes) return text;
  let bytes = 0;
  let i = 0;
  while (i < text.length) {
    const code = text.codePointAt(i)!;
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (bytes + size > maxBytes) break;
    bytes += size;
    i += code >= 0x10000 ? 2 : 1;
  }
  return text.slice(0, i);
}

/** Kilobytes for people: `204800` → `200 KB` (1 KB = 1024 bytes, rounded up). */
export function kilobytes(bytes: number): string {
  return `${Math.ceil(bytes / 1024)} KB`;
}

/**
 * Text as PostgreSQL's `text` type can hold it: U+0000 removed (PostgreSQL rejects the
 * NUL character in text values — "invalid byte sequence for encoding UTF8: 0x00" — and a
 * model may write it). Lone surrogates need nothing: the drivers encode them as U+FFFD.
 */
export function storableText(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '') : text;
}
