// Stand-in for a kubelet on a control plane that has no scheduler and no nodes. Without one, pods stay
// Pending, ReplicaSets never count them ready, and a pod deleted after it was bound to a node stays
// Terminating forever. These helpers do through the API what a scheduler and kubelet would do:
// bind pods to a fake Node, report them Running and Ready, and finish graceful deletions.

import type { KubeApiClient } from "./kube-api.ts";
import { sleep } from "./processes.ts";

/** Name of the Node object that {@link makePodsReady} binds pods to when no nodeName is given. */
export const DEFAULT_FAKE_NODE = "cpa-fake-node";

export interface MakePodsReadyOptions {
  /** Only pods matching this label selector, in kubectl syntax (for example "app=web"). */
  labelSelector?: string;
  nodeName?: string;
}

export interface FakeKubeletOptions extends MakePodsReadyOptions {
  /** Only pods in this namespace; all namespaces when unset. */
  namespace?: string;
  /** Delay between passes in milliseconds. Defaults to 250. */
  intervalMs?: number;
}

export interface FakeKubelet {
  /** Ends the loop after the pass in progress. Safe to call more than once. */
  stop(): Promise<void>;
}

interface Pod {
  metadata: { name: string; namespace: string; deletionTimestamp?: string };
  spec: { nodeName?: string; containers: { name: string; image?: string }[] };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}

function podsPath(namespace: string | undefined, labelSelector: string | undefined): string {
  const base = namespace === undefined ? "/api/v1/pods" : `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
  return labelSelector === undefined ? base : `${base}?labelSelector=${encodeURIComponent(labelSelector)}`;
}

function podPath(pod: Pod): string {
  return `/api/v1/namespaces/${encodeURIComponent(pod.metadata.namespace)}/pods/${encodeURIComponent(pod.metadata.name)}`;
}

async function listPods(api: KubeApiClient, namespace: string | undefined, labelSelector?: string): Promise<Pod[]> {
  const response = await api.requestJson("GET", podsPath(namespace, labelSelector));
  return (response.body as { items: Pod[] }).items;
}

function isRunningAndReady(pod: Pod): boolean {
  const ready = pod.status?.conditions?.find((condition) => condition.type === "Ready");
  return pod.status?.phase === "Running" && ready?.status === "True";
}

/** Creates the Node object `name` with a Ready condition unless it already exists. */
export async function ensureFakeNode(api: KubeApiClient, name: string): Promise<void> {
  const path = `/api/v1/nodes/${encodeURIComponent(name)}`;
  const existing = await api.request("GET", path);
  if (existing.status === 200) {
    return;
  }
  await api.requestJson("POST", "/api/v1/nodes", {
    body: {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name, labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux" } },
    },
    allowedStatuses: [409],
  });

  const now = new Date().toISOString();
  const resources = { cpu: "64", memory: "256Gi", pods: "1000" };
  await api.requestJson("PATCH", `${path}/status`, {
    contentType: "application/merge-patch+json",
    body: {
      status: {
        capacity: resources,
        allocatable: resources,
        conditions: [
          {
            type: "Ready",
            status: "True",
            reason: "KubeletReady",
            message: "fake node of the test control plane",
            lastHeartbeatTime: now,
            lastTransitionTime: now,
          },
        ],
        addresses: [{ type: "Hostname", address: name }],
      },
    },
  });
}

/**
 * Binds every pending pod in `namespace` (all namespaces when undefined) to a fake Node and marks it
 * Running and Ready, so that ReplicaSet and Deployment status count it as ready and available.
 * Pods that are being deleted or are already Running and Ready are left alone.
 * Returns the names ("namespace/name") of the pods it changed.
 */
export async function makePodsReady(
  api: KubeApiClient,
  namespace: string | undefined,
  options: MakePodsReadyOptions = {},
): Promise<string[]> {
  const nodeName = options.nodeName ?? DEFAULT_FAKE_NODE;
  const pods = (await listPods(api, namespace, options.labelSelector)).filter(
    (pod) => pod.metadata.deletionTimestamp === undefined && !isRunningAndReady(pod),
  );
  if (pods.length === 0) {
    return [];
  }
  await ensureFakeNode(api, nodeName);

  const changed: string[] = [];
  for (const pod of pods) {
    if (pod.spec.nodeName === undefined || pod.spec.nodeName === "") {
      const binding = await api.request("POST", `${podPath(pod)}/binding`, {
        body: {
          apiVersion: "v1",
          kind: "Binding",
          metadata: { name: pod.metadata.name },
          target: { apiVersion: "v1", kind: "Node", name: nodeName },
        },
      });
      // 404: the pod was deleted since the list. 409: another pass bound it first.
      if (binding.status === 404 || binding.status === 409) {
        continue;
      }
      if (binding.status >= 300) {
        throw new Error(`binding pod ${pod.metadata.namespace}/${pod.metadata.name} failed with HTTP ${binding.status}: ${binding.text}`);
      }
    }

    const now = new Date().toISOString();
    const condition = (type: string) => ({ type, status: "True", lastProbeTime: null, lastTransitionTime: now });
    const patched = await api.request("PATCH", `${podPath(pod)}/status`, {
      contentType: "application/merge-patch+json",
      body: {
        status: {
          phase: "Running",
          startTime: now,
          conditions: [condition("PodScheduled"), condition("Initialized"), condition("ContainersReady"), condition("Ready")],
          containerStatuses: pod.spec.containers.map((container) => ({
            name: container.name,
            image: container.image ?? "",
            imageID: "",
            ready: true,
            started: true,
            restartCount: 0,
            state: { running: { startedAt: now } },
          })),
        },
      },
    });
    if (patched.status === 404) {
      continue;
    }
    if (patched.status >= 300) {
      throw new Error(`patching status of pod ${pod.metadata.namespace}/${pod.metadata.name} failed with HTTP ${patched.status}: ${patched.text}`);
    }
    changed.push(`${pod.metadata.namespace}/${pod.metadata.name}`);
  }
  return changed;
}

/**
 * Deletes with a grace period of zero every pod in `namespace` (all namespaces when undefined) that
 * matches `labelSelector` (when given) and already has a deletion timestamp, as a kubelet does once the containers have stopped.
 * Returns the names ("namespace/name") of the pods it deleted.
 */
export async function deleteTerminatingPods(
  api: KubeApiClient,
  namespace: string | undefined,
  labelSelector?: string,
): Promise<string[]> {
  const pods = (await listPods(api, namespace, labelSelector)).filter((pod) => pod.metadata.deletionTimestamp !== undefined);
  const deleted: string[] = [];
  for (const pod of pods) {
    await api.requestJson("DELETE", podPath(pod), {
      body: { apiVersion: "v1", kind: "DeleteOptions", gracePeriodSeconds: 0 },
      allowedStatuses: [404],
    });
    deleted.push(`${pod.metadata.namespace}/${pod.metadata.name}`);
  }
  return deleted;
}

/**
 * Runs {@link makePodsReady} and {@link deleteTerminatingPods} in a loop until stopped. A failed pass
 * is logged to stderr and the loop goes on.
 */
export function startFakeKubelet(api: KubeApiClient, options: FakeKubeletOptions = {}): FakeKubelet {
  const intervalMs = options.intervalMs ?? 250;
  let stopped = false;
  let consecutiveFailures = 0;

  const loop = (async () => {
    while (!stopped) {
      try {
        await makePodsReady(api, options.namespace, options);
        await deleteTerminatingPods(api, options.namespace, options.labelSelector);
        consecutiveFailures = 0;
      } catch (error) {
        consecutiveFailures++;
        // Logs the first failure of a run of failures and every 20th after it.
        if (consecutiveFailures % 20 === 1) {
          console.error(`fake kubelet: pass failed (${consecutiveFailures} in a row): ${String(error)}`);
        }
      }
      await sleep(intervalMs);
    }
  })();

  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
