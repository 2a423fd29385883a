/** The configuration check of `kubernetesMetricSpecs`, for the configuration loader. */
import type { ConfigProblem, ConfigWarning } from "../errors.ts";
import { decodeMetricSpec, semanticProblems } from "./spec.ts";

function describeValue(value: unknown): string {
  if (value === undefined) return "(missing)";
  if (value instanceof Map) value = Object.fromEntries(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Checks `kubernetesMetricSpecs` as loaded from the configuration. Problems are fields of the wrong
 * type, which the Go agent also rejects at start-up, and specs that would fail on every cycle.
 * Warnings are fields that the agent drops, each with the nearest known field name. Paths are
 * full, such as `kubernetesMetricSpecs[1].resource.name`.
 */
export function checkKubernetesMetricSpecs(specs: unknown): { problems: ConfigProblem[]; warnings: ConfigWarning[] } {
  const problems: ConfigProblem[] = [];
  const warnings: ConfigWarning[] = [];
  if (specs === undefined || specs === null) return { problems, warnings };
  if (!Array.isArray(specs)) {
    problems.push({ path: "kubernetesMetricSpecs", received: describeValue(specs), expected: "must be a list of autoscaling/v2 MetricSpec objects" });
    return { problems, warnings };
  }
  specs.forEach((raw, index) => {
    const base = `kubernetesMetricSpecs[${index}]`;
    const joined = (path: string) => (path === "" ? base : `${base}.${path}`);
    const decoded = decodeMetricSpec(raw);
    for (const field of decoded.unknownFields) warnings.push({ path: joined(field.path), suggestion: field.suggestion });
    const found = decoded.spec === undefined ? decoded.problems : semanticProblems(decoded.spec);
    for (const problem of found) problems.push({ path: joined(problem.path), received: describeValue(problem.received), expected: problem.message });
  });
  return { problems, warnings };
}
