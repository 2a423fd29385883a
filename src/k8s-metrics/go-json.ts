/**
 * Values that `JSON.stringify` writes with the same bytes as Go's `encoding/json`: 64-bit integers
 * beyond 2^53 keep every digit, and strings get Go's extra escapes for `<`, `>`, `&`, U+2028 and
 * U+2029. Both rely on `JSON.rawJSON`, which Bun provides.
 */

type RawJsonFunction = (text: string) => unknown;

const rawJSON = (JSON as unknown as { rawJSON?: RawJsonFunction }).rawJSON;

function requireRawJson(): RawJsonFunction {
  if (rawJSON === undefined) throw new Error("JSON.rawJSON is not available in this JavaScript runtime; run the agent with Bun");
  return rawJSON;
}

/** Returns a signed 64-bit integer as a plain number when it is exact, else as raw JSON digits. */
export function goInt(value: bigint): unknown {
  if (value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value);
  return requireRawJson()(value.toString());
}

const HEX = "0123456789abcdef";

/** Quotes a string the way Go's encoding/json does with HTML escaping on, its default. */
export function goQuote(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === '"') out += '\\"';
    else if (char === "\\") out += "\\\\";
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    else if (code < 0x20 || char === "<" || char === ">" || char === "&" || code === 0x2028 || code === 0x2029) {
      out += `\\u${HEX[(code >> 12) & 15]}${HEX[(code >> 8) & 15]}${HEX[(code >> 4) & 15]}${HEX[code & 15]}`;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      // A lone surrogate is not valid UTF-8; Go writes the replacement character in its place.
      out += "\ufffd";
    } else out += char;
  }
  return `${out}"`;
}

/** Returns a string as is when JSON.stringify already writes Go's bytes for it, else as raw JSON. */
export function goString(text: string): unknown {
  const quoted = goQuote(text);
  return quoted === JSON.stringify(text) ? text : requireRawJson()(quoted);
}

/**
 * Builds a JSON object from entries sorted by key in byte order, as Go writes maps.
 * NOTE: JavaScript always puts keys that look like array indices ("7", "10") first and in numeric
 * order, so a map with such keys comes out in a different order than Go's. Pod names made by
 * controllers always contain a hyphen, so this affects only hand-made pods with numeric names.
 */
export function goMap<T>(entries: Iterable<readonly [string, T]>, convert: (value: T) => unknown): Record<string, unknown> {
  const sorted = [...entries].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const out: Record<string, unknown> = {};
  for (const [key, value] of sorted) out[key] = convert(value);
  return out;
}

/** Builds a Go `sets.String` as JSON: each member maps to an empty object, keys in byte order. */
export function goSet(members: Iterable<string>): Record<string, unknown> {
  return goMap([...new Set(members)].map((name) => [name, null] as const), () => ({}));
}
