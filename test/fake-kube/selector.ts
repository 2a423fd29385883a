/**
 * Label selectors in the string form of the `labelSelector` query parameter: equality
 * (`a=b`, `a==b`, `a!=b`), set-based (`a in (x,y)`, `a notin (x)`), existence (`a`, `!a`),
 * joined by commas. Also turns the `selector` object of a workload into that string form.
 */

type Requirement =
  | { key: string; op: "in" | "notin"; values: string[] }
  | { key: string; op: "exists" | "notexists" };

/** Thrown for a selector the parser does not accept; the server responds with 400. */
export class SelectorError extends Error {}

/** Splits at commas that are not inside parentheses. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = "";
  for (const char of selector) {
    if (char === "(") depth++;
    if (char === ")") depth--;
    if (char === "," && depth === 0) {
      terms.push(current);
      current = "";
    } else {
      current += char;
    }
  }
  terms.push(current);
  return terms.map((term) => term.trim()).filter((term) => term !== "");
}

function parseTerm(term: string): Requirement {
  const setMatch = /^([^\s!=()]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (setMatch) {
    const values = (setMatch[3] ?? "").split(",").map((value) => value.trim()).filter((value) => value !== "");
    return { key: setMatch[1] ?? "", op: setMatch[2] === "in" ? "in" : "notin", values };
  }
  const equality = /^([^\s!=()]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(term);
  if (equality) {
    const key = equality[1] ?? "";
    const value = equality[3] ?? "";
    return equality[2] === "!=" ? { key, op: "notin", values: [value] } : { key, op: "in", values: [value] };
  }
  const existence = /^(!?)([^\s!=()]+)$/.exec(term);
  if (existence) {
    return { key: existence[2] ?? "", op: existence[1] === "!" ? "notexists" : "exists" };
  }
  throw new SelectorError(`unable to parse requirement: ${JSON.stringify(term)}`);
}

/** Parses a selector string into a predicate over a label map. */
export function parseLabelSelector(selector: string): (labels: Readonly<Record<string, string>>) => boolean {
  const requirements = splitTerms(selector).map(parseTerm);
  return (labels) =>
    requirements.every((requirement) => {
      const has = Object.hasOwn(labels, requirement.key);
      switch (requirement.op) {
        case "exists":
          return has;
        case "notexists":
          return !has;
        case "in":
          return has && requirement.values.includes(labels[requirement.key] ?? "");
        case "notin":
          return !has || !requirement.values.includes(labels[requirement.key] ?? "");
      }
    });
}

interface LabelSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/**
 * Formats a workload's `spec.selector` the way the apiserver fills `status.selector` of its
 * Scale: a `LabelSelector` object, or a plain label map for ReplicationControllers.
 */
export function formatSelector(selector: unknown): string {
  if (typeof selector !== "object" || selector === null) return "";
  const object = selector as LabelSelectorObject & Record<string, unknown>;
  if (!("matchLabels" in object) && !("matchExpressions" in object)) {
    return Object.entries(object)
      .map(([key, value]) => `${key}=${String(value)}`)
      .sort()
      .join(",");
  }
  const terms = Object.entries(object.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  for (const expression of object.matchExpressions ?? []) {
    const values = [...(expression.values ?? [])].sort().join(",");
    switch (expression.operator) {
      case "In":
        terms.push(`${expression.key} in (${values})`);
        break;
      case "NotIn":
        terms.push(`${expression.key} notin (${values})`);
        break;
      case "Exists":
        terms.push(expression.key);
        break;
      case "DoesNotExist":
        terms.push(`!${expression.key}`);
        break;
    }
  }
  return terms.sort().join(",");
}
