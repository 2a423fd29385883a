import { describe, expect, test } from "bun:test";
import { evaluatePayload, metricPayload, postEvaluatePayload, postMetricPayload, scalePayload } from "../../src/pipeline/payloads.ts";

const target = { kind: "Deployment", apiVersion: "apps/v1", metadata: { name: "web", labels: { numPods: "3" } } };
const metrics = [{ resource: "web", value: "3" }];

describe("payloads byte for byte", () => {
  const cases: [string, string, string][] = [
    ["metric per-resource", metricPayload(target, "scaler"), '{"resource":{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web","labels":{"numPods":"3"}}},"runType":"scaler"}'],
    ["metric with kubernetesMetrics", metricPayload({ a: 1 }, "api", []), '{"resource":{"a":1},"runType":"api","kubernetesMetrics":[]}'],
    [
      "postMetric",
      postMetricPayload({ a: 1 }, metrics, "scaler"),
      '{"resource":{"a":1},"metrics":[{"resource":"web","value":"3"}],"runType":"scaler"}',
    ],
    ["evaluate", evaluatePayload(metrics, { a: 1 }, "scaler", 1), '{"metrics":[{"resource":"web","value":"3"}],"resource":{"a":1},"runType":"scaler","currentReplicas":1}'],
    ["evaluate with no metrics", evaluatePayload([], { a: 1 }, "api_dry_run", 0), '{"metrics":[],"resource":{"a":1},"runType":"api_dry_run","currentReplicas":0}'],
    ["evaluate keeps empty value", evaluatePayload([{ resource: "web", value: "" }], { a: 1 }, "scaler", 1), '{"metrics":[{"resource":"web","value":""}],"resource":{"a":1},"runType":"scaler","currentReplicas":1}'],
    [
      "postEvaluate",
      postEvaluatePayload(metrics, { a: 1 }, 4, "scaler", 2),
      '{"metrics":[{"resource":"web","value":"3"}],"resource":{"a":1},"evaluation":{"targetReplicas":4},"runType":"scaler","currentReplicas":2}',
    ],
    [
      "preScale and postScale",
      scalePayload({
        finalReplicas: 5,
        target: { a: 1 },
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
        namespace: "default",
        minReplicas: 1,
        maxReplicas: 5,
        evaluatedReplicas: 9,
        currentReplicas: 2,
        runType: "api",
      }),
      '{"evaluation":{"targetReplicas":5},"resource":{"a":1},"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"web"},"namespace":"default","minReplicas":1,"maxReplicas":5,"targetReplicas":9,"currentReplicas":2,"runType":"api"}',
    ],
  ];
  for (const [name, actual, expected] of cases) {
    test(name, () => expect(actual).toBe(expected));
  }

  test("object key order is kept as the API returned it", () => {
    const fromApi = JSON.parse('{"status":{},"metadata":{"name":"z"},"apiVersion":"v1","kind":"Pod"}') as Record<string, unknown>;
    expect(metricPayload(fromApi, "scaler")).toBe('{"resource":{"status":{},"metadata":{"name":"z"},"apiVersion":"v1","kind":"Pod"},"runType":"scaler"}');
  });
});
