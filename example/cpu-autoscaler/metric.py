"""Metric stage of the CPU autoscaler example: pass the agent's Kubernetes metrics on.

The agent writes {"resource": {...}, "runType": "scaler", "kubernetesMetrics": [...]} to standard
input. The script prints the kubernetesMetrics list as JSON, which becomes the metric value that
evaluate.py reads. When the agent sends no kubernetesMetrics key, it prints [].
"""
import json
import sys


def main():
    try:
        payload = json.load(sys.stdin)
    except json.JSONDecodeError as err:
        sys.stderr.write(f"Invalid JSON on standard input: {err}\n")
        return 1
    json.dump(payload.get("kubernetesMetrics", []), sys.stdout, separators=(",", ":"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
