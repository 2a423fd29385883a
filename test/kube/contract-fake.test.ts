/**
 * Runs the client contract suite against the fake API server.
 */

import { loadKubeConnection } from "../../src/kube/index.ts";
import { countedResource, deployment, pod } from "../fake-kube/fixtures.ts";
import { startFakeKube } from "../fake-kube/server.ts";
import { CONTRACT_KINDS, runKubeContract } from "./contract.ts";

runKubeContract("fake API server", async () => {
  const namespace = "contract";
  const kube = await startFakeKube({ clientCert: true, namespace });
  kube.registerKind({
    ...CONTRACT_KINDS.counted,
    replicasPath: ".spec.count",
    statusReplicasPath: ".status.count",
    selectorPath: ".status.selector",
  });
  kube.registerKind({ ...CONTRACT_KINDS.noScale, noScale: true });

  const limitedToken = kube.addServiceAccount(namespace, "limited", () => false);
  const restrictedPath = kube.writeKubeconfig("limited-kubeconfig", { user: { token: limitedToken }, userName: "limited" });

  return {
    connection: loadKubeConnection({ kubeconfigPath: kube.kubeconfigPath }),
    restrictedConnection: loadKubeConnection({ kubeconfigPath: restrictedPath }),
    namespace,
    createDeployment: async ({ name, replicas, labels }) => {
      kube.addObject(deployment({ name, namespace, replicas, labels }));
    },
    createPod: async ({ name, labels }) => {
      kube.addObject(pod({ name, namespace, labels }));
    },
    createCounted: async ({ name, count, selector }) => {
      kube.addObject(countedResource({ ...CONTRACT_KINDS.counted, name, namespace, count, selector }));
    },
    teardown: () => kube.stop(),
  };
});
