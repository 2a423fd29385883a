/**
 * Timestamps and durations with nanosecond precision. Instants are bigint nanoseconds since the
 * Unix epoch, so they compare exactly and print like Go's `time.Time` in UTC.
 */

/** Go's zero `time.Time`, 0001-01-01T00:00:00Z, which a missing or null timestamp becomes. */
export const ZERO_TIME = -62_135_596_800n * 1_000_000_000n;

const NANOS_PER_SECOND = 1_000_000_000n;
const NANOS_PER_MILLISECOND = 1_000_000n;

const RFC3339_PATTERN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

export class TimeFormatError extends Error {}

/** Converts milliseconds since the epoch (a clock reading) to nanoseconds. */
export function fromMilliseconds(milliseconds: number): bigint {
  return BigInt(Math.trunc(milliseconds)) * NANOS_PER_MILLISECOND;
}

/** Parses an RFC 3339 timestamp with up to nine fractional digits. Null and undefined give ZERO_TIME. */
export function parseTimestamp(value: unknown): bigint {
  if (value === null || value === undefined) return ZERO_TIME;
  if (typeof value !== "string") throw new TimeFormatError(`invalid timestamp ${JSON.stringify(value)}: expected an RFC 3339 string`);
  const match = RFC3339_PATTERN.exec(value);
  if (match === null) throw new TimeFormatError(`invalid timestamp ${JSON.stringify(value)}: expected RFC 3339, such as 2024-05-01T12:00:00Z`);
  const [, year, month, day, hour, minute, second, fraction = "", zone = "Z"] = match;
  const fields = [year, month, day, hour, minute, second].map((field) => Number(field));
  const [y, mo, d, h, mi, s] = fields as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) {
    throw new TimeFormatError(`invalid timestamp ${JSON.stringify(value)}: a date or time field is out of range`);
  }
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  // Digits past the ninth are cut off, as Go's time.Parse does.
  let nanos = BigInt(date.getTime()) * NANOS_PER_MILLISECOND + BigInt(fraction.slice(0, 9).padEnd(9, "0"));
  if (zone !== "Z") {
    const offsetMinutes = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6));
    const offset = BigInt(offsetMinutes) * 60n * NANOS_PER_SECOND;
    nanos = zone.startsWith("+") ? nanos - offset : nanos + offset;
  }
  return nanos;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Formats an instant as Go's time.Time marshals it in UTC: RFC 3339, trailing fractional zeros dropped. */
export function formatTimestamp(nanos: bigint): string {
  let seconds = nanos / NANOS_PER_SECOND;
  let fraction = nanos % NANOS_PER_SECOND;
  if (fraction < 0n) {
    fraction += NANOS_PER_SECOND;
    seconds -= 1n;
  }
  const date = new Date(Number(seconds) * 1000);
  const pad = (value: number, width = 2) => String(value).padStart(width, "0");
  const base =
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}` +
    `T${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  const digits = fraction === 0n ? "" : `.${fraction.toString().padStart(9, "0").replace(/0+$/, "")}`;
  return `${base}${digits}Z`;
}

const DURATION_UNITS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  "µs": 1_000n,
  "μs": 1_000n,
  ms: 1_000_000n,
  s: NANOS_PER_SECOND,
  m: 60n * NANOS_PER_SECOND,
  h: 3600n * NANOS_PER_SECOND,
};

const DURATION_PART = /(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/y;

/** Parses a Go duration string (`30s`, `1m30s`, `10.5s`) into nanoseconds; fractions finer than 1ns are cut off. */
export function parseDuration(text: string): bigint {
  let rest = text;
  let negative = false;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    negative = rest.startsWith("-");
    rest = rest.slice(1);
  }
  if (rest === "0") return 0n;
  if (rest === "") throw new TimeFormatError(`invalid duration ${JSON.stringify(text)}`);

  let total = 0n;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < rest.length) {
    const start = DURATION_PART.lastIndex;
    const match = DURATION_PART.exec(rest);
    if (match === null || match.index !== start) throw new TimeFormatError(`invalid duration ${JSON.stringify(text)}: expected a Go duration such as 30s or 1m30s`);
    const [, whole = "", fraction = "", unitName = ""] = match;
    if (whole === "" && fraction === "") throw new TimeFormatError(`invalid duration ${JSON.stringify(text)}: a unit has no number`);
    const unit = DURATION_UNITS[unitName]!;
    const scale = 10n ** BigInt(fraction.length);
    total += BigInt(whole || "0") * unit + (BigInt(fraction || "0") * unit) / scale;
  }
  return negative ? -total : total;
}
