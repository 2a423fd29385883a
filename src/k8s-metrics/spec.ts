/**
 * `kubernetesMetricSpecs` entries: decoding as the Go agent does (field names match without regard
 * to case, unknown fields are dropped, null equals absent), the problems a configuration check
 * reports, and the `spec` echo written into each `kubernetesMetrics` entry.
 */
import * as v from "valibot";
import { nearestKey } from "../config/suggest.ts";
import { goMap, goString } from "./go-json.ts";
import { formatQuantity, parseQuantity, type Quantity } from "./quantity.ts";
import { selectorProblems, type LabelSelector, type LabelSelectorRequirement } from "./selector.ts";

export interface MetricTarget {
  readonly type: string;
  readonly value: Quantity | undefined;
  readonly averageValue: Quantity | undefined;
  readonly averageUtilization: number | undefined;
}

export interface MetricIdentifier {
  readonly name: string;
  readonly selector: LabelSelector | undefined;
}

export interface ObjectReference {
  readonly kind: string;
  readonly name: string;
  /** "" when the configuration leaves it out. */
  readonly apiVersion: string;
}

/** An `autoscaling/v2` MetricSpec. Every block present in the configuration is kept, whatever its `type`. */
export interface MetricSpec {
  readonly type: string;
  readonly object: { readonly describedObject: ObjectReference; readonly target: MetricTarget; readonly metric: MetricIdentifier } | undefined;
  readonly pods: { readonly metric: MetricIdentifier; readonly target: MetricTarget } | undefined;
  readonly resource: { readonly name: string; readonly target: MetricTarget } | undefined;
  readonly containerResource: { readonly name: string; readonly target: MetricTarget; readonly container: string } | undefined;
  readonly external: { readonly metric: MetricIdentifier; readonly target: MetricTarget } | undefined;
}

/** One problem found in a spec; `path` is relative to the spec, such as `resource.name`. */
export interface SpecProblem {
  readonly path: string;
  readonly received: unknown;
  readonly message: string;
}

/** A field name the Go agent would drop, with the nearest known name. */
export interface UnknownField {
  readonly path: string;
  readonly suggestion: string | undefined;
}

// Field names of each object type, in the order Go declares them. Nested objects name their type.
type Shape = { readonly [field: string]: string | null };
const SHAPES: Readonly<Record<string, Shape>> = {
  spec: { type: null, object: "object", pods: "metricSource", resource: "resource", containerResource: "containerResource", external: "metricSource" },
  object: { describedObject: "reference", target: "target", metric: "identifier" },
  metricSource: { metric: "identifier", target: "target" },
  resource: { name: null, target: "target" },
  containerResource: { name: null, target: "target", container: null },
  reference: { kind: null, name: null, apiVersion: null },
  identifier: { name: null, selector: "selector" },
  target: { type: null, value: null, averageValue: null, averageUtilization: null },
  selector: { matchLabels: null, matchExpressions: "requirement" },
  requirement: { key: null, operator: null, values: null },
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Renames fields to their declared spelling, drops unknown fields and turns null into absent, as
 * Go's encoding/json does: names match case-insensitively and a later duplicate wins.
 */
function foldFields(value: unknown, shapeName: string, path: string, unknown: UnknownField[]): unknown {
  if (value === null) return undefined;
  if (Array.isArray(value)) return value.map((item, index) => foldFields(item, shapeName, `${path}[${index}]`, unknown));
  if (!isPlainObject(value)) return value;
  const shape = SHAPES[shapeName]!;
  const names = Object.keys(shape);
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const name = names.find((candidate) => candidate.toLowerCase() === key.toLowerCase());
    const childPath = path === "" ? key : `${path}.${key}`;
    if (name === undefined) {
      unknown.push({ path: childPath, suggestion: nearestKey(key, names) });
      continue;
    }
    const childShape = shape[name];
    if (typeof childShape === "string") out[name] = foldFields(child, childShape, childPath, unknown);
    else out[name] = child === null ? undefined : child;
  }
  return out;
}

const text = () => v.optional(v.string("must be a string"), "");

const quantity = () =>
  v.optional(
    v.pipe(
      v.union([v.string(), v.number()], "must be a quantity such as 500m, 2 or 1Gi"),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        try {
          return parseQuantity(dataset.value);
        } catch (error) {
          addIssue({ message: (error as Error).message });
          return NEVER;
        }
      }),
    ),
  );

const TargetSchema = v.optional(
  v.object(
    {
      type: text(),
      value: quantity(),
      averageValue: quantity(),
      averageUtilization: v.optional(
        v.pipe(v.number("must be an integer"), v.integer("must be an integer"), v.minValue(-2147483648, "must fit in 32 bits"), v.maxValue(2147483647, "must fit in 32 bits")),
      ),
    },
    "must be an object with type and an optional value, averageValue or averageUtilization",
  ),
  {},
);

const RequirementSchema = v.object(
  {
    key: text(),
    operator: text(),
    values: v.optional(v.array(v.pipe(v.nullable(v.string("must be a string")), v.transform((value) => value ?? "")), "must be a list of strings")),
  },
  "must be an object with key, operator and values",
);

const SelectorSchema = v.optional(
  v.object(
    {
      matchLabels: v.optional(
        v.pipe(
          v.record(v.string(), v.pipe(v.nullable(v.string("must be a string")), v.transform((value) => value ?? "")), "must map label keys to string values"),
          v.transform((labels) => new Map(Object.entries(labels))),
        ),
      ),
      matchExpressions: v.optional(v.array(RequirementSchema, "must be a list of {key, operator, values}")),
    },
    "must be a label selector object with matchLabels or matchExpressions, not a string",
  ),
);

const IdentifierSchema = v.optional(v.object({ name: text(), selector: SelectorSchema }, "must be an object with name and an optional selector"), {});

const MetricSourceSchema = v.optional(v.object({ metric: IdentifierSchema, target: TargetSchema }, "must be an object with metric and target"));

const SpecSchema = v.object(
  {
    type: text(),
    object: v.optional(
      v.object(
        {
          describedObject: v.optional(
            v.object({ kind: text(), name: text(), apiVersion: text() }, "must be an object with kind, name and apiVersion"),
            {},
          ),
          target: TargetSchema,
          metric: IdentifierSchema,
        },
        "must be an object with describedObject, target and metric",
      ),
    ),
    pods: MetricSourceSchema,
    resource: v.optional(v.object({ name: text(), target: TargetSchema }, "must be an object with name and target")),
    containerResource: v.optional(
      v.object({ name: text(), target: TargetSchema, container: text() }, "must be an object with name, container and target"),
    ),
    external: MetricSourceSchema,
  },
  "must be an autoscaling/v2 MetricSpec object",
);

function issuePath(issue: v.BaseIssue<unknown>): string {
  return (issue.path ?? [])
    .map((item) => (typeof item.key === "number" ? `[${item.key}]` : `.${String(item.key)}`))
    .join("")
    .replace(/^\./, "");
}

/** Decodes one configured spec. `spec` is undefined when a field has the wrong JSON type, as Go's loader rejects. */
export function decodeMetricSpec(raw: unknown): { spec: MetricSpec | undefined; problems: SpecProblem[]; unknownFields: UnknownField[] } {
  const unknownFields: UnknownField[] = [];
  const folded = foldFields(raw, "spec", "", unknownFields);
  const result = v.safeParse(SpecSchema, folded, { abortEarly: false });
  if (!result.success) {
    const problems = result.issues.map((issue) => ({ path: issuePath(issue), received: issue.input, message: issue.message }));
    return { spec: undefined, problems, unknownFields };
  }
  return { spec: result.output as unknown as MetricSpec, problems: [], unknownFields };
}

const TARGET_TYPES: Readonly<Record<string, readonly string[]>> = {
  Resource: ["Utilization", "AverageValue"],
  ContainerResource: ["Utilization", "AverageValue"],
  Pods: ["AverageValue"],
  Object: ["Value", "AverageValue"],
  External: ["Value", "AverageValue"],
};

/** The block that each metric source type reads. */
export const SOURCE_BLOCKS: Readonly<Record<string, keyof MetricSpec>> = {
  Resource: "resource",
  ContainerResource: "containerResource",
  Pods: "pods",
  Object: "object",
  External: "external",
};

/**
 * Returns the problems that make a decoded spec fail on every cycle: an unknown type, a missing
 * block, a target type the source does not support, an empty name, an invalid selector.
 */
export function semanticProblems(spec: MetricSpec): SpecProblem[] {
  const problems: SpecProblem[] = [];
  const add = (path: string, received: unknown, message: string) => problems.push({ path, received, message });
  const block = SOURCE_BLOCKS[spec.type];
  if (block === undefined) {
    add("type", spec.type || undefined, "must be one of Resource, ContainerResource, Pods, Object or External");
    return problems;
  }
  const source = spec[block] as Record<string, unknown> | undefined;
  if (source === undefined) {
    add(block, undefined, `is required when type is ${spec.type}`);
    return problems;
  }

  const target = source["target"] as MetricTarget;
  const allowed = TARGET_TYPES[spec.type]!;
  if (!allowed.includes(target.type)) add(`${block}.target.type`, target.type || undefined, `must be ${allowed.join(" or ")} for a ${spec.type} metric`);

  const requireText = (path: string, value: string, description: string) => {
    if (value === "") add(path, undefined, `is required: ${description}`);
  };
  if (spec.resource !== undefined && block === "resource") requireText("resource.name", spec.resource.name, "the resource name, such as cpu or memory");
  if (spec.containerResource !== undefined && block === "containerResource") {
    requireText("containerResource.name", spec.containerResource.name, "the resource name, such as cpu or memory");
    requireText("containerResource.container", spec.containerResource.container, "the name of the container in the pods");
  }
  const metric = source["metric"] as MetricIdentifier | undefined;
  if (metric !== undefined) {
    requireText(`${block}.metric.name`, metric.name, "the metric name");
    if (metric.selector !== undefined) {
      for (const problem of selectorProblems(metric.selector)) add(`${block}.metric.selector.${problem.path}`, undefined, problem.message);
    }
  }
  if (spec.object !== undefined && block === "object") {
    requireText("object.describedObject.kind", spec.object.describedObject.kind, "the kind of the object, such as Ingress");
    requireText("object.describedObject.name", spec.object.describedObject.name, "the name of the object");
  }
  return problems;
}

/** Names a spec in messages: `resource/cpu`, `pods/packets-per-second`, `external/queue_depth`. */
export function describeSpec(spec: MetricSpec | undefined, index: number): string {
  const fallback = `kubernetesMetricSpecs[${index}]`;
  if (spec === undefined) return fallback;
  switch (spec.type) {
    case "Resource":
      return spec.resource ? `resource/${spec.resource.name}` : fallback;
    case "ContainerResource":
      return spec.containerResource ? `containerResource/${spec.containerResource.container}/${spec.containerResource.name}` : fallback;
    case "Pods":
      return spec.pods ? `pods/${spec.pods.metric.name}` : fallback;
    case "Object":
      return spec.object ? `object/${spec.object.describedObject.kind}/${spec.object.describedObject.name}/${spec.object.metric.name}` : fallback;
    case "External":
      return spec.external ? `external/${spec.external.metric.name}` : fallback;
    default:
      return fallback;
  }
}

function echoTarget(target: MetricTarget): Record<string, unknown> {
  const out: Record<string, unknown> = { type: goString(target.type) };
  if (target.value !== undefined) out["value"] = formatQuantity(target.value);
  if (target.averageValue !== undefined) out["averageValue"] = formatQuantity(target.averageValue);
  if (target.averageUtilization !== undefined) out["averageUtilization"] = target.averageUtilization;
  return out;
}

function echoRequirement(requirement: LabelSelectorRequirement): Record<string, unknown> {
  const out: Record<string, unknown> = { key: goString(requirement.key), operator: goString(requirement.operator) };
  if (requirement.values !== undefined && requirement.values.length > 0) out["values"] = requirement.values.map(goString);
  return out;
}

function echoIdentifier(identifier: MetricIdentifier): Record<string, unknown> {
  const out: Record<string, unknown> = { name: goString(identifier.name) };
  const selector = identifier.selector;
  if (selector !== undefined) {
    const echoed: Record<string, unknown> = {};
    if (selector.matchLabels !== undefined && selector.matchLabels.size > 0) echoed["matchLabels"] = goMap(selector.matchLabels, goString);
    if (selector.matchExpressions !== undefined && selector.matchExpressions.length > 0) {
      echoed["matchExpressions"] = selector.matchExpressions.map(echoRequirement);
    }
    out["selector"] = echoed;
  }
  return out;
}

/** Builds the `spec` echo: the spec re-serialised the way Go marshals an autoscaling/v2 MetricSpec. */
export function echoSpec(spec: MetricSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { type: goString(spec.type) };
  if (spec.object !== undefined) {
    const reference = spec.object.describedObject;
    const describedObject: Record<string, unknown> = { kind: goString(reference.kind), name: goString(reference.name) };
    if (reference.apiVersion !== "") describedObject["apiVersion"] = goString(reference.apiVersion);
    out["object"] = { describedObject, target: echoTarget(spec.object.target), metric: echoIdentifier(spec.object.metric) };
  }
  if (spec.pods !== undefined) out["pods"] = { metric: echoIdentifier(spec.pods.metric), target: echoTarget(spec.pods.target) };
  if (spec.resource !== undefined) out["resource"] = { name: goString(spec.resource.name), target: echoTarget(spec.resource.target) };
  if (spec.containerResource !== undefined) {
    const block = spec.containerResource;
    out["containerResource"] = { name: goString(block.name), target: echoTarget(block.target), container: goString(block.container) };
  }
  if (spec.external !== undefined) out["external"] = { metric: echoIdentifier(spec.external.metric), target: echoTarget(spec.external.target) };
  return out;
}
