/**
 * Helpers shared by the Kubernetes client tests.
 */

import { KubeApiError } from "../../src/kube/index.ts";

/** Runs `action` and returns the `KubeApiError` it threw; any other outcome fails the test. */
export async function caughtKubeError(action: () => Promise<unknown>): Promise<KubeApiError> {
  try {
    await action();
  } catch (error) {
    if (error instanceof KubeApiError) return error;
    throw error;
  }
  throw new Error("expected a KubeApiError, but the call succeeded");
}

/** Runs `action` and returns the error it threw; a call that succeeds fails the test. */
export function caughtError(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error, but the call succeeded");
}
