/**
 * Kubernetes resource quantities (`500m`, `1.5Gi`, `2e3`): parsing, conversion to integer
 * milli-units and the canonical text form, following apimachinery's `resource.Quantity` (v0.32).
 * Values are exact: the number is kept as an integer mantissa with powers of ten and two.
 */

export type QuantityFormat = "DecimalSI" | "BinarySI" | "DecimalExponent";

/** A parsed quantity: `mantissa × 10^exponent10 × 2^exponent2`, with the format its suffix implies. */
export interface Quantity {
  readonly mantissa: bigint;
  readonly exponent10: number;
  readonly exponent2: number;
  readonly format: QuantityFormat;
}

export class QuantityError extends Error {}

const DECIMAL_SUFFIXES: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIXES: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const SUFFIX_BY_EXPONENT10 = new Map(Object.entries(DECIMAL_SUFFIXES).map(([suffix, exponent]) => [exponent, suffix]));
const SUFFIX_BY_EXPONENT2 = new Map(Object.entries(BINARY_SUFFIXES).map(([suffix, exponent]) => [exponent, suffix]));

const QUANTITY_PATTERN = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)([a-zA-Z]*|[eE][+-]?\d+)$/;

/** Parses a quantity string, or a number as a YAML or JSON document gives it. Throws QuantityError. */
export function parseQuantity(input: string | number): Quantity {
  const text = typeof input === "number" ? numberText(input) : input.trim();
  const match = QUANTITY_PATTERN.exec(text);
  if (match === null) throw new QuantityError(`invalid quantity ${JSON.stringify(text)}: expected a number with an optional suffix such as 500m, 2, 1.5Gi or 1e3`);
  const [, sign = "", number = "", suffix = ""] = match;

  let exponent10 = 0;
  let exponent2 = 0;
  let format: QuantityFormat;
  if (/^[eE][+-]?\d+$/.test(suffix)) {
    exponent10 = Number.parseInt(suffix.slice(1), 10);
    format = "DecimalExponent";
  } else if (suffix in BINARY_SUFFIXES) {
    exponent2 = BINARY_SUFFIXES[suffix]!;
    format = "BinarySI";
  } else if (suffix in DECIMAL_SUFFIXES) {
    exponent10 = DECIMAL_SUFFIXES[suffix]!;
    format = "DecimalSI";
  } else {
    throw new QuantityError(`invalid quantity ${JSON.stringify(text)}: unknown suffix ${JSON.stringify(suffix)}`);
  }

  const [whole = "", fraction = ""] = number.split(".");
  let mantissa = BigInt(`${whole}${fraction}` || "0");
  exponent10 -= fraction.length;
  if (sign === "-") mantissa = -mantissa;

  // apimachinery rounds any finer amount up to whole nano-units and prints values below 1 that
  // carry a binary suffix as decimal.
  const nanos = scaledCeil({ mantissa, exponent10, exponent2 }, -9);
  if (format === "BinarySI" && nanos > 0n && nanos < 1_000_000_000n) format = "DecimalSI";
  return { ...normalize(nanos, -9), format };
}

/** Returns the value in milli-units, rounded away from zero as `Quantity.MilliValue()` does. */
export function milliValue(quantity: Quantity): bigint {
  return scaledCeil(quantity, -3);
}

/** Returns the canonical text of a quantity, as `Quantity.String()` prints it. */
export function formatQuantity(quantity: Quantity): string {
  const nanos = scaledCeil(quantity, -9);
  if (nanos === 0n) return "0";

  if (quantity.format === "BinarySI") {
    const wholeUnits = nanos % 1_000_000_000n === 0n ? nanos / 1_000_000_000n : undefined;
    if (wholeUnits !== undefined && (wholeUnits >= 1024n || wholeUnits <= -1024n)) {
      let amount = wholeUnits;
      let exponent2 = 0;
      while (amount % 1024n === 0n && exponent2 < 60) {
        amount /= 1024n;
        exponent2 += 10;
      }
      return `${amount}${SUFFIX_BY_EXPONENT2.get(exponent2) ?? ""}`;
    }
  }

  // Decimal forms: strip factors of ten, then lower the exponent to a multiple of three.
  let { mantissa, exponent10 } = normalize(nanos, -9);
  const remainder = ((exponent10 % 3) + 3) % 3;
  mantissa *= 10n ** BigInt(remainder);
  exponent10 -= remainder;
  if (quantity.format === "DecimalExponent") return exponent10 === 0 ? `${mantissa}` : `${mantissa}e${exponent10}`;
  while (exponent10 > 18) {
    mantissa *= 1000n;
    exponent10 -= 3;
  }
  return `${mantissa}${SUFFIX_BY_EXPONENT10.get(exponent10) ?? ""}`;
}

/** Returns the decimal text of a number from the configuration, which the quantity parser then reads. */
function numberText(value: number): string {
  if (!Number.isFinite(value)) throw new QuantityError(`invalid quantity ${value}: must be a finite number`);
  return String(value);
}

/** Returns `value` in units of 10^unitExponent, rounded away from zero. */
function scaledCeil(value: { mantissa: bigint; exponent10: number; exponent2: number }, unitExponent: number): bigint {
  let numerator = value.mantissa < 0n ? -value.mantissa : value.mantissa;
  let denominator = 1n;
  const shift10 = value.exponent10 - unitExponent;
  if (shift10 >= 0) numerator *= 10n ** BigInt(shift10);
  else denominator *= 10n ** BigInt(-shift10);
  if (value.exponent2 >= 0) numerator *= 2n ** BigInt(value.exponent2);
  else denominator *= 2n ** BigInt(-value.exponent2);
  const magnitude = (numerator + denominator - 1n) / denominator;
  return value.mantissa < 0n ? -magnitude : magnitude;
}

/** Moves trailing decimal zeros of `units × 10^exponent10` into the exponent. */
function normalize(units: bigint, exponent10: number): { mantissa: bigint; exponent10: number; exponent2: number } {
  let mantissa = units;
  let exponent = exponent10;
  while (mantissa !== 0n && mantissa % 10n === 0n) {
    mantissa /= 10n;
    exponent += 1;
  }
  return { mantissa, exponent10: exponent, exponent2: 0 };
}
