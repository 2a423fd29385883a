/**
 * Runs the client contract suite against a real kube-apiserver started by the control-plane
 * harness. It needs the binaries from scripts/build-control-plane.sh (or CPA_CONTROL_PLANE_BIN).
 *
 * kube-controller-manager is not started, so Deployments create no pods and the pod list holds
 * only the pods the suite creates.
 */

import { loadKubeConnection } from "../../src/kube/index.ts";
import { startControlPlane, type ControlPlane } from "../controlplane/harness.ts";
import { writeServiceAccountDir } from "../fake-kube/kubeconfig.ts";
import { CONTRACT_KINDS, runKubeContract } from "../kube/contract.ts";
import path from "node:path";

const NAMESPACE = "kube-contract";

/** Sends a request as the admin user and fails unless the response is 2xx. */
async function must(plane: ControlPlane, method: string, apiPath: string, body?: unknown, contentType?: string) {
  const options: { body?: unknown; contentType?: string } = {};
  if (body !== undefined) options.body = body;
  if (contentType !== undefined) options.contentType = contentType;
  const response = await plane.request(method, apiPath, options);
  if (response.status < 200 || response.status > 299) {
    throw new Error(`${method} ${apiPath} returned HTTP ${response.status}: ${response.text.slice(0, 500)}`);
  }
  return response;
}

function customResourceDefinition(kind: { apiVersion: string; kind: string; plural: string }, scale: boolean) {
  const [group, version] = kind.apiVersion.split("/");
  const openSchema = { type: "object", "x-kubernetes-preserve-unknown-fields": true };
  const subresources: Record<string, unknown> = { status: {} };
  if (scale) {
    subresources.scale = {
      specReplicasPath: ".spec.count",
      statusReplicasPath: ".status.count",
      labelSelectorPath: ".status.selector",
    };
  }
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${kind.plural}.${group}` },
    spec: {
      group,
      scope: "Namespaced",
      names: { plural: kind.plural, singular: kind.kind.toLowerCase(), kind: kind.kind, listKind: `${kind.kind}List` },
      versions: [{ name: version, served: true, storage: true, schema: { openAPIV3Schema: openSchema }, subresources }],
    },
  };
}

/** Waits until discovery of the kind's group version lists its plural, because CRDs are served asynchronously. */
async function waitForKind(plane: ControlPlane, kind: { apiVersion: string; plural: string }): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const response = await plane.request("GET", `/apis/${kind.apiVersion}`);
    const resources = (response.body as { resources?: { name: string }[] } | undefined)?.resources ?? [];
    if (resources.some((resource) => resource.name === kind.plural)) return;
    await Bun.sleep(100);
  }
  throw new Error(`${kind.plural} in ${kind.apiVersion} was not served within 30 s`);
}

runKubeContract(
  "real kube-apiserver",
  async () => {
    const plane = await startControlPlane({ startControllerManager: false });
    try {
      await must(plane, "POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } });
      for (const [kind, scale] of [[CONTRACT_KINDS.counted, true], [CONTRACT_KINDS.noScale, false]] as const) {
        await must(plane, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", customResourceDefinition(kind, scale));
        await waitForKind(plane, kind);
      }

      // The restricted user is a service account without any RoleBinding, loaded the in-cluster way.
      const token = await plane.createServiceAccountToken(NAMESPACE, "limited");
      const directory = writeServiceAccountDir(path.join(plane.dir, "limited-serviceaccount"), {
        token,
        caPem: plane.caPem,
        namespace: NAMESPACE,
      });
      const server = new URL(plane.server);
      const restrictedConnection = loadKubeConnection({
        serviceAccountDir: directory,
        env: { KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port },
        homeDir: path.join(plane.dir, "no-home"),
      });

      return {
        connection: loadKubeConnection({ kubeconfigPath: plane.kubeconfigPath }),
        restrictedConnection,
        namespace: NAMESPACE,
        createDeployment: async ({ name, replicas, labels }) => {
          await must(plane, "POST", `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`, {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name, labels },
            spec: {
              replicas,
              selector: { matchLabels: labels },
              template: { metadata: { labels }, spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }] } },
            },
          });
        },
        createPod: async ({ name, labels }) => {
          await must(plane, "POST", `/api/v1/namespaces/${NAMESPACE}/pods`, {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name, labels },
            spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }] },
          });
        },
        createCounted: async ({ name, count, selector }) => {
          const { apiVersion, plural } = CONTRACT_KINDS.counted;
          const base = `/apis/${apiVersion}/namespaces/${NAMESPACE}/${plural}`;
          await must(plane, "POST", base, { apiVersion, kind: CONTRACT_KINDS.counted.kind, metadata: { name }, spec: { count } });
          // With the status subresource enabled, status is ignored on create and set through /status.
          await must(plane, "PATCH", `${base}/${name}/status`, { status: { count, selector } }, "application/merge-patch+json");
        },
        teardown: () => plane.stop(),
      };
    } catch (error) {
      await plane.stop();
      throw error;
    }
  },
  { setupTimeoutMs: 120_000 },
);
