"""Evaluate stage of the CPU autoscaler example: the HorizontalPodAutoscaler's CPU rule.

The agent writes {"metrics": [{"resource": "web", "value": "<metric.py output>"}], ...,
"currentReplicas": N} to standard input. The metric value is the agent's kubernetesMetrics list.
The script prints {"targetReplicas": N} computed from the first Resource cpu Utilization entry:

1. utilisation = usage / request over the pods that have a CPU sample, in percent;
2. ratio = utilisation / target (spec.resource.target.averageUtilization);
3. pods without a sample count as using 100% of their request when the ratio is below 1 (scale
   down) and 0% when it is above 1 (scale up). Pods set aside as not ready count as 0%, on scale
   up only.
4. a ratio within 10% of 1, or one that the step-3 adjustments flip to the other side of 1,
   keeps the current replica count. Otherwise the target is ceil(ratio * pods counted).

It never scales down while an entry has an "error" field (a metric the agent could not get), and
keeps the current count when there is no CPU data at all.
"""
import json
import math
import sys

TOLERANCE = 0.1


def cpu_entry(entries):
    """Return the first successful Resource cpu Utilization entry, or None."""
    for entry in entries:
        spec = entry.get("spec", {})
        block = spec.get("resource", {})
        if spec.get("type") == "Resource" and block.get("name") == "cpu" and "resource" in entry:
            if block.get("target", {}).get("type") == "Utilization":
                return entry
    return None


def utilization_replicas(resource, target, current):
    """Return the replica count the HPA's CPU utilisation rule gives for one entry."""
    samples = resource.get("pod_metrics_info") or {}
    requests = resource.get("requests") or {}
    missing = [name for name in (resource.get("missing_pods") or {}) if name in requests]
    ignored = [name for name in (resource.get("ignored_pods") or {}) if name in requests]
    measured = [name for name in samples if name in requests]

    usage = sum(samples[name]["Value"] for name in measured)
    requested = sum(requests[name] for name in measured)
    if requested == 0:
        return current
    ratio = usage * 100 / requested / target

    rebalance_ignored = bool(ignored) and ratio > 1
    if not missing and not rebalance_ignored:
        if abs(1 - ratio) <= TOLERANCE:
            return current
        return math.ceil(ratio * resource["ready_pod_count"])

    counted = len(measured)
    for name in missing:
        # A pod without a sample: assume the least convenient usage for the direction of change.
        usage += requests[name] if ratio < 1 else 0
        requested += requests[name]
        counted += 1
    if rebalance_ignored:
        for name in ignored:
            requested += requests[name]
            counted += 1
    new_ratio = usage * 100 / requested / target
    if abs(1 - new_ratio) <= TOLERANCE or (ratio < 1 < new_ratio) or (new_ratio < 1 < ratio):
        return current
    replicas = math.ceil(new_ratio * counted)
    if (new_ratio < 1 and replicas > current) or (new_ratio > 1 and replicas < current):
        return current
    return replicas


def evaluate(payload):
    """Return the evaluation for the evaluate stage's input."""
    entries = json.loads(payload["metrics"][0]["value"])
    current = payload.get("currentReplicas")
    entry = cpu_entry(entries)
    if current is None:
        current = entry["current_replicas"] if entry else 0
    if entry is None:
        return {"targetReplicas": current}

    target = entry["spec"]["resource"]["target"].get("averageUtilization")
    if not target:
        raise ValueError("spec.resource.target.averageUtilization must be set to a positive percentage")
    replicas = utilization_replicas(entry["resource"], target, current)
    if any("error" in other for other in entries):
        replicas = max(replicas, current)
    return {"targetReplicas": replicas}


def main():
    try:
        payload = json.load(sys.stdin)
        evaluation = evaluate(payload)
    except (json.JSONDecodeError, ValueError) as err:
        sys.stderr.write(f"{err}\n")
        return 1
    except (KeyError, IndexError, TypeError) as err:
        sys.stderr.write(f"Unexpected input: missing {err}; the input must contain metrics[0].value from metric.py\n")
        return 1
    json.dump(evaluation, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
