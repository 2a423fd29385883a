import { describe, expect, test } from "bun:test";
import type { KubeObject } from "../../src/kube/client.ts";
import {
  InvalidCustomPodAutoscalerError,
  OWNED_BY_LABEL,
  SPEC_HASH_ANNOTATION,
  parseCustomPodAutoscaler,
} from "../../src/operator/custom-resource.ts";
import {
  ARGO_ROLLOUTS_ROLE_RULE,
  BASE_ROLE_RULES,
  METRICS_ROLE_RULE,
  canonicalJson,
  injectedEnv,
  renderPod,
  renderRole,
  renderRoleBinding,
  renderServiceAccount,
  roleRules,
} from "../../src/operator/render.ts";

/** Builds a CustomPodAutoscaler object like the example's cpa.yaml, with `change` applied to a copy. */
function cpaObject(change: (object: any) => void = () => {}): KubeObject {
  const object = {
    apiVersion: "custompodautoscaler.com/v1",
    kind: "CustomPodAutoscaler",
    metadata: { name: "python-custom-autoscaler", namespace: "apps", uid: "uid-1" },
    spec: {
      template: {
        spec: {
          containers: [{ name: "python-custom-autoscaler", image: "python-custom-autoscaler:latest", imagePullPolicy: "IfNotPresent" }],
        },
      },
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "hello-kubernetes" },
      config: [{ name: "interval", value: "10000" }],
    },
  };
  change(object);
  return object;
}

function parse(change?: (object: any) => void) {
  return parseCustomPodAutoscaler(cpaObject(change));
}

function pod(change?: (object: any) => void): any {
  return renderPod(parse(change));
}

function hashOf(change?: (object: any) => void): string {
  return pod(change).metadata.annotations[SPEC_HASH_ANNOTATION];
}

describe("parseCustomPodAutoscaler", () => {
  test("applies defaults", () => {
    const cpa = parse();
    expect(cpa.provisionRole).toBe(true);
    expect(cpa.provisionRoleBinding).toBe(true);
    expect(cpa.provisionServiceAccount).toBe(true);
    expect(cpa.provisionPod).toBe(true);
    expect(cpa.roleRequiresMetricsServer).toBe(false);
    expect(cpa.roleRequiresArgoRollouts).toBe(false);
    expect(cpa.pausedReplicas).toBeUndefined();
    expect(cpa.template.name).toBeUndefined();
  });

  test("reads switches and paused replicas", () => {
    const cpa = parse((o) => {
      o.spec.provisionPod = false;
      o.spec.roleRequiresArgoRollouts = true;
      o.metadata.annotations = { "v1.custompodautoscaler.com/paused-replicas": "0" };
    });
    expect(cpa.provisionPod).toBe(false);
    expect(cpa.roleRequiresArgoRollouts).toBe(true);
    expect(cpa.pausedReplicas).toBe(0);
  });

  const invalid: { name: string; change: (object: any) => void; message: string }[] = [
    { name: "no containers", change: (o) => (o.spec.template.spec.containers = []), message: "spec.template.spec.containers" },
    { name: "no template", change: (o) => delete o.spec.template, message: "spec.template" },
    { name: "empty target kind", change: (o) => (o.spec.scaleTargetRef.kind = ""), message: "spec.scaleTargetRef.kind" },
    { name: "config value not a string", change: (o) => (o.spec.config = [{ name: "interval", value: 5 }]), message: "spec.config.0.value" },
    {
      name: "paused replicas not a number",
      change: (o) => (o.metadata.annotations = { "v1.custompodautoscaler.com/paused-replicas": "three" }),
      message: 'received "three"',
    },
    {
      name: "paused replicas negative",
      change: (o) => (o.metadata.annotations = { "v1.custompodautoscaler.com/paused-replicas": "-1" }),
      message: 'received "-1"',
    },
  ];
  for (const row of invalid) {
    test(`rejects ${row.name}`, () => {
      let error: unknown;
      try {
        parse(row.change);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(InvalidCustomPodAutoscalerError);
      expect((error as Error).message).toStartWith("invalid CustomPodAutoscaler apps/python-custom-autoscaler: ");
      expect((error as Error).message).toContain(row.message);
    });
  }
});

describe("injected environment", () => {
  test("order is scaleTargetRef, namespace, config", () => {
    const env = injectedEnv(parse((o) => o.spec.config.push({ name: "minReplicas", value: "2" })));
    expect(env.map((entry) => entry.name)).toEqual(["scaleTargetRef", "namespace", "interval", "minReplicas"]);
    expect(env[1]?.value).toBe("apps");
    expect(env[2]?.value).toBe("10000");
  });

  const refCases = [
    {
      name: "with apiVersion",
      ref: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
      json: '{"kind":"Deployment","name":"web","apiVersion":"apps/v1"}',
    },
    { name: "without apiVersion", ref: { kind: "Deployment", name: "web" }, json: '{"kind":"Deployment","name":"web"}' },
  ];
  for (const row of refCases) {
    test(`scaleTargetRef JSON ${row.name}`, () => {
      const env = injectedEnv(parse((o) => (o.spec.scaleTargetRef = row.ref)));
      expect(env[0]?.value).toBe(row.json);
    });
  }

  test("appended to every container after its own variables", () => {
    const rendered = pod((o) => {
      o.spec.template.spec.containers[0].env = [{ name: "LOG", value: "debug" }];
      o.spec.template.spec.containers.push({ name: "sidecar", image: "busybox" });
      o.spec.template.spec.initContainers = [{ name: "init", image: "busybox" }];
    });
    const names = rendered.spec.containers.map((c: any) => c.env.map((e: any) => e.name));
    expect(names[0]).toEqual(["LOG", "scaleTargetRef", "namespace", "interval"]);
    expect(names[1]).toEqual(["scaleTargetRef", "namespace", "interval"]);
    expect(rendered.spec.initContainers[0].env).toBeUndefined();
  });

  test("replaces a container variable of an injected name", () => {
    const rendered = pod((o) => (o.spec.template.spec.containers[0].env = [{ name: "interval", value: "1" }]));
    const env = rendered.spec.containers[0].env;
    expect(env.filter((e: any) => e.name === "interval")).toEqual([{ name: "interval", value: "10000" }]);
  });
});

describe("roleRules", () => {
  const cases = [
    { name: "default", change: () => {}, expected: [...BASE_ROLE_RULES] },
    { name: "metrics server", change: (o: any) => (o.spec.roleRequiresMetricsServer = true), expected: [...BASE_ROLE_RULES, METRICS_ROLE_RULE] },
    { name: "argo rollouts", change: (o: any) => (o.spec.roleRequiresArgoRollouts = true), expected: [...BASE_ROLE_RULES, ARGO_ROLLOUTS_ROLE_RULE] },
    {
      name: "both",
      change: (o: any) => {
        o.spec.roleRequiresMetricsServer = true;
        o.spec.roleRequiresArgoRollouts = true;
      },
      expected: [...BASE_ROLE_RULES, METRICS_ROLE_RULE, ARGO_ROLLOUTS_ROLE_RULE],
    },
  ];
  for (const row of cases) {
    test(row.name, () => expect(roleRules(parse(row.change))).toEqual(row.expected));
  }

  test("default rules grant all verbs on the built-in scalable kinds", () => {
    expect(BASE_ROLE_RULES).toEqual([
      { apiGroups: [""], resources: ["pods", "replicationcontrollers", "replicationcontrollers/scale"], verbs: ["*"] },
      {
        apiGroups: ["apps"],
        resources: ["deployments", "deployments/scale", "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"],
        verbs: ["*"],
      },
      { apiGroups: [""], resources: ["events"], verbs: ["create"] },
    ]);
  });
});

describe("rendered objects", () => {
  const ownerReference = {
    apiVersion: "custompodautoscaler.com/v1",
    kind: "CustomPodAutoscaler",
    name: "python-custom-autoscaler",
    uid: "uid-1",
    controller: true,
    blockOwnerDeletion: true,
  };
  const labels = { "app.kubernetes.io/managed-by": "custom-pod-autoscaler-operator", [OWNED_BY_LABEL]: "python-custom-autoscaler" };

  const cases: { name: string; render: () => any; kind: string }[] = [
    { name: "service account", render: () => renderServiceAccount(parse()), kind: "ServiceAccount" },
    { name: "role", render: () => renderRole(parse()), kind: "Role" },
    { name: "role binding", render: () => renderRoleBinding(parse()), kind: "RoleBinding" },
    { name: "pod", render: () => pod(), kind: "Pod" },
  ];
  for (const row of cases) {
    test(`${row.name} is named and owned`, () => {
      const object = row.render();
      expect(object.kind).toBe(row.kind);
      expect(object.metadata.name).toBe("python-custom-autoscaler");
      expect(object.metadata.namespace).toBe("apps");
      expect(object.metadata.ownerReferences).toEqual([ownerReference]);
      expect(object.metadata.labels).toMatchObject(labels);
    });
  }

  test("role binding binds the role to the service account", () => {
    const binding: any = renderRoleBinding(parse());
    expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "python-custom-autoscaler" });
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "python-custom-autoscaler", namespace: "apps" }]);
  });

  test("pod keeps template metadata", () => {
    const rendered = pod((o) => {
      o.spec.template.metadata = { name: "agent", labels: { team: "a" }, annotations: { note: "x" } };
    });
    expect(rendered.metadata.name).toBe("agent");
    expect(rendered.metadata.labels).toEqual({ team: "a", ...labels });
    expect(rendered.metadata.annotations.note).toBe("x");
    expect(rendered.metadata.annotations[SPEC_HASH_ANNOTATION]).toMatch(/^[0-9a-f]{64}$/);
  });

  test("pod runs as the provisioned service account in the autoscaler's namespace", () => {
    const rendered = pod((o) => {
      o.spec.template.metadata = { namespace: "elsewhere" };
      o.spec.template.spec.serviceAccountName = "other";
      o.spec.template.spec.serviceAccount = "other";
    });
    expect(rendered.metadata.namespace).toBe("apps");
    expect(rendered.spec.serviceAccountName).toBe("python-custom-autoscaler");
    expect(rendered.spec.serviceAccount).toBeUndefined();
  });
});

describe("spec hash", () => {
  const base = hashOf();

  const unchanged: { name: string; change: (object: any) => void }[] = [
    { name: "same object", change: () => {} },
    {
      name: "keys in another order",
      change: (o) => {
        const container = o.spec.template.spec.containers[0];
        o.spec.template.spec.containers[0] = { imagePullPolicy: container.imagePullPolicy, image: container.image, name: container.name };
        o.spec.scaleTargetRef = { name: "hello-kubernetes", kind: "Deployment", apiVersion: "apps/v1" };
      },
    },
    { name: "autoscaler annotation", change: (o) => (o.metadata.annotations = { note: "changed" }) },
    { name: "template label", change: (o) => (o.spec.template.metadata = { labels: { team: "b" } }) },
    { name: "template annotation", change: (o) => (o.spec.template.metadata = { annotations: { note: "y" } }) },
    { name: "template name", change: (o) => (o.spec.template.metadata = { name: "renamed" }) },
    { name: "provision switch", change: (o) => (o.spec.provisionRole = false) },
  ];
  for (const row of unchanged) {
    test(`unchanged by ${row.name}`, () => expect(hashOf(row.change)).toBe(base));
  }

  const changed: { name: string; change: (object: any) => void }[] = [
    { name: "image", change: (o) => (o.spec.template.spec.containers[0].image = "python-custom-autoscaler:v2") },
    { name: "config value", change: (o) => (o.spec.config[0].value = "5000") },
    { name: "config entry", change: (o) => o.spec.config.push({ name: "maxReplicas", value: "4" }) },
    { name: "target", change: (o) => (o.spec.scaleTargetRef.name = "other") },
    { name: "pod spec field", change: (o) => (o.spec.template.spec.nodeSelector = { disk: "ssd" }) },
  ];
  for (const row of changed) {
    test(`changed by ${row.name}`, () => expect(hashOf(row.change)).not.toBe(base));
  }

  test("canonical JSON sorts keys at every level", () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: null, e: undefined })).toBe('{"a":null,"b":[{"c":2,"d":1}]}');
  });
});
