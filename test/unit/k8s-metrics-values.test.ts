/** Quantities, timestamps, durations, label selectors and the configuration check of kubernetesMetricSpecs. */
import { describe, expect, test } from "bun:test";
import { checkKubernetesMetricSpecs } from "../../src/k8s-metrics/index.ts";
import { goQuote } from "../../src/k8s-metrics/go-json.ts";
import { formatQuantity, milliValue, parseQuantity } from "../../src/k8s-metrics/quantity.ts";
import { renderSelector, type LabelSelector } from "../../src/k8s-metrics/selector.ts";
import { formatTimestamp, parseDuration, parseTimestamp, ZERO_TIME } from "../../src/k8s-metrics/time.ts";

describe("quantity", () => {
  test.each([
    ["500m", "500m"],
    [0.5, "500m"],
    ["0.5", "500m"],
    [1, "1"],
    [1000, "1k"],
    [30, "30"],
    ["100Mi", "100Mi"],
    ["1.5Gi", "1536Mi"],
    ["1024Ki", "1Mi"],
    ["0.5Ki", "512"],
    ["1.5Ki", "1536"],
    ["1e3", "1e3"],
    ["1.5e3", "1500"],
    ["1500m", "1500m"],
    ["2000m", "2"],
    ["0", "0"],
    ["-1500u", "-1500u"],
    ["150123456n", "150123456n"],
    ["1.0000000001", "1000000001n"],
    ["+5k", "5k"],
  ] as const)("%p prints as %p", (input, expected) => {
    expect(formatQuantity(parseQuantity(input))).toBe(expected);
  });

  test.each([
    ["150123456n", 151n],
    ["1n", 1n],
    ["-1500u", -2n],
    ["2.5", 2500n],
    ["1Ki", 1024000n],
    ["50Mi", 52428800000n],
    ["16Ti", 17592186044416000n],
    ["-1n", -1n],
  ] as const)("%p is %p milli-units", (input, expected) => {
    expect(milliValue(parseQuantity(input))).toBe(expected);
  });

  test.each(["", "abc", "1.2.3", "5 m", "1Zi", "1e"])("%p is rejected", (input) => {
    expect(() => parseQuantity(input)).toThrow("invalid quantity");
  });
});

describe("timestamps and durations", () => {
  test.each([
    ["2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z"],
    ["2024-05-01T12:00:00.120Z", "2024-05-01T12:00:00.12Z"],
    ["2024-05-01T14:00:00.120+02:00", "2024-05-01T12:00:00.12Z"],
    ["2024-05-01T12:00:01.000000001Z", "2024-05-01T12:00:01.000000001Z"],
    ["2024-05-01T12:00:01.0000000019Z", "2024-05-01T12:00:01.000000001Z"],
    ["2024-05-01T00:30:00-01:00", "2024-05-01T01:30:00Z"],
    ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"],
  ])("%s prints as %s", (input, expected) => {
    expect(formatTimestamp(parseTimestamp(input))).toBe(expected);
  });

  test("null is the zero time", () => {
    expect(parseTimestamp(null)).toBe(ZERO_TIME);
    expect(formatTimestamp(ZERO_TIME)).toBe("0001-01-01T00:00:00Z");
  });

  test.each(["2024-05-01 12:00:00Z", "2024-02-30T00:00:00Z", "2024-05-01T12:00:00", "yesterday"])("%p is rejected", (input) => {
    expect(() => parseTimestamp(input)).toThrow("invalid timestamp");
  });

  test.each([
    ["30s", 30_000_000_000n],
    ["1m30s", 90_000_000_000n],
    ["10.5s", 10_500_000_000n],
    ["1h", 3_600_000_000_000n],
    ["250ms", 250_000_000n],
    ["1µs", 1_000n],
    ["7ns", 7n],
    ["0", 0n],
    ["-2s", -2_000_000_000n],
  ] as const)("duration %s", (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  test.each(["", "30", "s", "1x"])("duration %p is rejected", (input) => {
    expect(() => parseDuration(input)).toThrow("invalid duration");
  });
});

describe("label selector", () => {
  const selector = (matchLabels?: Record<string, string>, matchExpressions?: LabelSelector["matchExpressions"]): LabelSelector => ({
    matchLabels: matchLabels === undefined ? undefined : new Map(Object.entries(matchLabels)),
    matchExpressions,
  });

  test.each([
    ["absent", undefined, ""],
    ["empty", selector(), ""],
    ["matchLabels", selector({ queue: "worker_tasks" }), "queue=worker_tasks"],
    ["In sorted", selector(undefined, [{ key: "queue", operator: "In", values: ["b", "a"] }]), "queue in (a,b)"],
    ["NotIn", selector(undefined, [{ key: "q", operator: "NotIn", values: ["x"] }]), "q notin (x)"],
    ["Exists", selector(undefined, [{ key: "q", operator: "Exists", values: undefined }]), "q"],
    ["DoesNotExist", selector(undefined, [{ key: "q", operator: "DoesNotExist", values: [] }]), "!q"],
    ["sorted by key", selector({ z: "1", a: "2" }, [{ key: "m", operator: "Exists", values: undefined }]), "a=2,m,z=1"],
  ] as const)("%s renders", (_name, input, expected) => {
    expect(renderSelector(input)).toBe(expected);
  });

  test.each([
    ["bad operator", selector(undefined, [{ key: "q", operator: "Equals", values: ["x"] }]), '"Equals" is not a valid label selector operator'],
    ["In without values", selector(undefined, [{ key: "q", operator: "In", values: [] }]), "operator In needs at least one value"],
    ["Exists with values", selector(undefined, [{ key: "q", operator: "Exists", values: ["x"] }]), "operator Exists takes no values"],
    ["bad key", selector({ "a b": "x" }), 'invalid label key "a b"'],
    ["bad value", selector({ a: "x y" }), 'invalid label value "x y"'],
  ] as const)("%s is rejected", (_name, input, message) => {
    expect(() => renderSelector(input)).toThrow(message);
  });
});

describe("Go JSON strings", () => {
  test.each([
    ["plain", '"plain"'],
    ["a<b>&c", '"a\\u003cb\\u003e\\u0026c"'],
    ["line\u2028break", '"line\\u2028break"'],
    ["bell\u0007\b\f", '"bell\\u0007\\u0008\\u000c"'],
    ['quote"back\\slash\n', '"quote\\"back\\\\slash\\n"'],
  ])("%p", (input, expected) => {
    expect(goQuote(input)).toBe(expected);
  });
});

describe("checkKubernetesMetricSpecs", () => {
  const problems = (specs: unknown) => checkKubernetesMetricSpecs(specs).problems.map((problem) => `${problem.path}: ${problem.expected} (received ${problem.received})`);

  test("valid specs have no problems", () => {
    const result = checkKubernetesMetricSpecs([
      { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 50 } } },
      { type: "ContainerResource", containerResource: { name: "cpu", container: "app", target: { type: "AverageValue", averageValue: "200m" } } },
      { type: "Pods", pods: { metric: { name: "packets-per-second" }, target: { type: "AverageValue", averageValue: "1k" } } },
      { type: "Object", object: { describedObject: { kind: "Ingress", name: "main", apiVersion: "networking.k8s.io/v1" }, metric: { name: "rps" }, target: { type: "Value", value: 10 } } },
      { type: "External", external: { metric: { name: "queue", selector: { matchLabels: { queue: "a" } } }, target: { type: "AverageValue", averageValue: 30 } } },
    ]);
    expect(result).toEqual({ problems: [], warnings: [] });
  });

  test("absent specs have no problems", () => {
    expect(checkKubernetesMetricSpecs(undefined)).toEqual({ problems: [], warnings: [] });
  });

  test.each([
    ["missing resource name", [{ type: "Resource", resource: { target: { type: "Utilization" } } }], ["kubernetesMetricSpecs[0].resource.name: is required: the resource name, such as cpu or memory (received (missing))"]],
    [
      "name of the wrong type",
      [{ type: "Pods", pods: { metric: { name: 5 }, target: { type: "AverageValue" } } }],
      ["kubernetesMetricSpecs[0].pods.metric.name: must be a string (received 5)"],
    ],
    ["unknown type", [{ type: "Podz" }], ['kubernetesMetricSpecs[0].type: must be one of Resource, ContainerResource, Pods, Object or External (received "Podz")']],
    ["missing block", [{ type: "External" }], ["kubernetesMetricSpecs[0].external: is required when type is External (received (missing))"]],
    [
      "target type not supported",
      [{ type: "Pods", pods: { metric: { name: "x" }, target: { type: "Value" } } }],
      ['kubernetesMetricSpecs[0].pods.target.type: must be AverageValue for a Pods metric (received "Value")'],
    ],
    [
      "missing target type",
      [{}, { type: "Resource", resource: { name: "cpu" } }],
      [
        "kubernetesMetricSpecs[0].type: must be one of Resource, ContainerResource, Pods, Object or External (received (missing))",
        "kubernetesMetricSpecs[1].resource.target.type: must be Utilization or AverageValue for a Resource metric (received (missing))",
      ],
    ],
    [
      "selector given as a string",
      [{ type: "External", external: { metric: { name: "q", selector: "queue=a" }, target: { type: "Value" } } }],
      ['kubernetesMetricSpecs[0].external.metric.selector: must be a label selector object with matchLabels or matchExpressions, not a string (received "queue=a")'],
    ],
    [
      "invalid quantity",
      [{ type: "Pods", pods: { metric: { name: "x" }, target: { type: "AverageValue", averageValue: "lots" } } }],
      ['kubernetesMetricSpecs[0].pods.target.averageValue: invalid quantity "lots": expected a number with an optional suffix such as 500m, 2, 1.5Gi or 1e3 (received "lots")'],
    ],
    [
      "invalid selector operator",
      [{ type: "External", external: { metric: { name: "q", selector: { matchExpressions: [{ key: "q", operator: "Equals", values: ["a"] }] } }, target: { type: "Value" } } }],
      ['kubernetesMetricSpecs[0].external.metric.selector.matchExpressions[0].operator: "Equals" is not a valid label selector operator: use In, NotIn, Exists or DoesNotExist (received (missing))'],
    ],
    [
      "object without described object",
      [{ type: "Object", object: { metric: { name: "rps" }, target: { type: "Value" } } }],
      [
        "kubernetesMetricSpecs[0].object.describedObject.kind: is required: the kind of the object, such as Ingress (received (missing))",
        "kubernetesMetricSpecs[0].object.describedObject.name: is required: the name of the object (received (missing))",
      ],
    ],
    ["not a list", { type: "Resource" }, ['kubernetesMetricSpecs: must be a list of autoscaling/v2 MetricSpec objects (received {"type":"Resource"})']],
  ])("%s", (_name, specs, expected) => {
    expect(problems(specs)).toEqual(expected);
  });

  test("unknown fields are warnings with the nearest name", () => {
    const result = checkKubernetesMetricSpecs([{ type: "Pods", pods: { metric: { name: "x" }, target: { type: "AverageValue", avrageValue: "1" } } }]);
    expect(result.problems).toEqual([]);
    expect(result.warnings).toEqual([{ path: "kubernetesMetricSpecs[0].pods.target.avrageValue", suggestion: "averageValue" }]);
  });

  test("field names match without regard to case", () => {
    const result = checkKubernetesMetricSpecs([{ Type: "Resource", RESOURCE: { Name: "cpu", target: { TYPE: "Utilization" } } }]);
    expect(result).toEqual({ problems: [], warnings: [] });
  });
});
