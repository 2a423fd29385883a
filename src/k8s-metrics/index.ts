/**
 * Kubernetes metrics for the metric stage (`kubernetesMetricSpecs`): resource, container resource,
 * pods, object and external metrics, in the JSON format of the Go Custom Pod Autoscaler v2 agent.
 */
export {
  createKubernetesMetricsSource,
  KubernetesMetricsError,
  type KubernetesMetricsSettings,
  type KubernetesMetricsSourceOptions,
  type SpecFailure,
} from "./source.ts";
export { checkKubernetesMetricSpecs } from "./validate.ts";
export type { MetricsApiClient } from "./api.ts";
