/**
 * Metric label selectors: the `LabelSelector` object of a metric spec turned into the string form
 * of a `labelSelector` query parameter, with the checks apimachinery's LabelSelectorAsSelector makes.
 */

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: string;
  /** Undefined when the configuration leaves `values` out. */
  readonly values: readonly string[] | undefined;
}

export interface LabelSelector {
  readonly matchLabels: ReadonlyMap<string, string> | undefined;
  readonly matchExpressions: readonly LabelSelectorRequirement[] | undefined;
}

export class SelectorError extends Error {}

const NAME_PATTERN = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Returns why `key` is not a valid label key, or undefined when it is valid. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf("/");
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix === "" || prefix.length > 253 || !DNS_SUBDOMAIN_PATTERN.test(prefix))) {
    return `invalid label key ${JSON.stringify(key)}: the prefix must be a DNS subdomain of at most 253 characters, such as example.com`;
  }
  if (name === "" || name.length > 63 || !NAME_PATTERN.test(name)) {
    return `invalid label key ${JSON.stringify(key)}: the name must be 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  }
  return undefined;
}

/** Returns why `value` is not a valid label value, or undefined when it is valid. */
export function labelValueProblem(value: string): string | undefined {
  if (value === "") return undefined;
  if (value.length > 63 || !NAME_PATTERN.test(value)) {
    return `invalid label value ${JSON.stringify(value)}: it must be empty or 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  }
  return undefined;
}

/** Returns every problem of a selector, each naming the part of the selector it is about. */
export function selectorProblems(selector: LabelSelector): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  for (const [key, value] of selector.matchLabels ?? []) {
    const problem = labelKeyProblem(key) ?? labelValueProblem(value);
    if (problem !== undefined) problems.push({ path: `matchLabels.${key}`, message: problem });
  }
  (selector.matchExpressions ?? []).forEach((requirement, index) => {
    const path = `matchExpressions[${index}]`;
    const values = requirement.values ?? [];
    const keyProblem = labelKeyProblem(requirement.key);
    if (keyProblem !== undefined) problems.push({ path: `${path}.key`, message: keyProblem });
    switch (requirement.operator) {
      case "In":
      case "NotIn":
        if (values.length === 0) problems.push({ path: `${path}.values`, message: `operator ${requirement.operator} needs at least one value` });
        break;
      case "Exists":
      case "DoesNotExist":
        if (values.length > 0) problems.push({ path: `${path}.values`, message: `operator ${requirement.operator} takes no values` });
        break;
      default:
        problems.push({ path: `${path}.operator`, message: `${JSON.stringify(requirement.operator)} is not a valid label selector operator: use In, NotIn, Exists or DoesNotExist` });
    }
    for (const value of values) {
      const valueProblem = labelValueProblem(value);
      if (valueProblem !== undefined) problems.push({ path: `${path}.values`, message: valueProblem });
    }
  });
  return problems;
}

/**
 * Renders a selector as the `labelSelector` query text: requirements sorted by key, set values
 * sorted, joined by commas. An absent or empty selector renders as "", so no parameter is sent.
 * Throws SelectorError for the first problem of an invalid selector.
 */
export function renderSelector(selector: LabelSelector | undefined): string {
  if (selector === undefined) return "";
  const first = selectorProblems(selector)[0];
  if (first !== undefined) throw new SelectorError(first.message);

  const terms: { key: string; text: string }[] = [];
  for (const [key, value] of selector.matchLabels ?? []) terms.push({ key, text: `${key}=${value}` });
  for (const requirement of selector.matchExpressions ?? []) {
    const values = [...(requirement.values ?? [])].sort().join(",");
    const { key } = requirement;
    const text =
      requirement.operator === "In" ? `${key} in (${values})`
      : requirement.operator === "NotIn" ? `${key} notin (${values})`
      : requirement.operator === "Exists" ? key
      : `!${key}`;
    terms.push({ key, text });
  }
  terms.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  return terms.map((term) => term.text).join(",");
}
