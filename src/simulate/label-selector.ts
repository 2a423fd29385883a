/** Label selectors for simulated targets: the `spec.selector` of a workload, rendered and matched. */

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  readonly values?: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

/** Renders a selector in the text form used by `/scale` `status.selector`, e.g. `app=web,tier in (a,b)`. */
export function formatSelector(selector: LabelSelector): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) parts.push(`${key}=${value}`);
  for (const requirement of selector.matchExpressions ?? []) {
    const values = [...(requirement.values ?? [])].sort().join(",");
    switch (requirement.operator) {
      case "In":
        parts.push(`${requirement.key} in (${values})`);
        break;
      case "NotIn":
        parts.push(`${requirement.key} notin (${values})`);
        break;
      case "Exists":
        parts.push(requirement.key);
        break;
      case "DoesNotExist":
        parts.push(`!${requirement.key}`);
        break;
    }
  }
  return parts.sort().join(",");
}

/** Reports whether `labels` satisfy every part of `selector`. */
export function matchesSelector(labels: Readonly<Record<string, string>>, selector: LabelSelector): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const requirement of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, requirement.key);
    const value = labels[requirement.key];
    const listed = value !== undefined && (requirement.values ?? []).includes(value);
    if (requirement.operator === "In" && !listed) return false;
    if (requirement.operator === "NotIn" && listed) return false;
    if (requirement.operator === "Exists" && !has) return false;
    if (requirement.operator === "DoesNotExist" && has) return false;
  }
  return true;
}
