"""Tests of the CPU autoscaler example scripts: python3 -m unittest discover -s example/cpu-autoscaler"""
import json
import pathlib
import subprocess
import sys
import unittest

import evaluate

HERE = pathlib.Path(__file__).parent
SPEC = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}


def sample(value):
    return {"Timestamp": "2024-05-01T12:00:00Z", "Window": 30000000000, "Value": value}


def cpu_entry(samples, requests, ready, ignored=(), missing=(), replicas=2):
    return {
        "current_replicas": replicas,
        "spec": SPEC,
        "resource": {
            "pod_metrics_info": {name: sample(value) for name, value in samples.items()},
            "requests": requests,
            "ready_pod_count": ready,
            "ignored_pods": {name: {} for name in ignored},
            "missing_pods": {name: {} for name in missing},
            "total_pods": len(requests),
            "timestamp": "2024-05-01T12:00:00Z",
        },
    }


def payload(entries, current):
    return {"metrics": [{"resource": "web", "value": json.dumps(entries)}], "runType": "scaler", "currentReplicas": current}


class EvaluateTest(unittest.TestCase):
    def test_scales_up_on_high_utilisation(self):
        entry = cpu_entry({"a": 80, "b": 80}, {"a": 100, "b": 100}, ready=2)
        self.assertEqual(evaluate.evaluate(payload([entry], 2)), {"targetReplicas": 4})

    def test_keeps_replicas_within_tolerance(self):
        entry = cpu_entry({"a": 52, "b": 48}, {"a": 100, "b": 100}, ready=2)
        self.assertEqual(evaluate.evaluate(payload([entry], 2)), {"targetReplicas": 2})

    def test_warming_pods_do_not_cause_scale_up(self):
        # Two ready pods at 40%; two starting pods at 190% were set aside by the agent.
        entry = cpu_entry({"a": 40, "b": 40}, {"a": 100, "b": 100, "c": 100, "d": 100}, ready=2, ignored=["c", "d"], replicas=4)
        self.assertEqual(evaluate.evaluate(payload([entry], 4)), {"targetReplicas": 2})

    def test_missing_pod_counts_as_idle_on_scale_up(self):
        entry = cpu_entry({"a": 150}, {"a": 100, "b": 100}, ready=1, missing=["b"])
        # (150 + 0) / 200 = 75% of a 50% target: ratio 1.5 over 2 pods.
        self.assertEqual(evaluate.evaluate(payload([entry], 2)), {"targetReplicas": 3})

    def test_missing_pod_counts_as_busy_on_scale_down(self):
        entry = cpu_entry({"a": 10, "b": 10}, {"a": 100, "b": 100, "c": 100}, ready=2, missing=["c"], replicas=3)
        # (10 + 10 + 100) / 300 = 40% of 50%: ratio 0.8 over 3 pods gives 3, so no change.
        self.assertEqual(evaluate.evaluate(payload([entry], 3)), {"targetReplicas": 3})

    def test_no_scale_down_while_a_metric_failed(self):
        entry = cpu_entry({"a": 5, "b": 5}, {"a": 100, "b": 100}, ready=2, replicas=5)
        failed = {"current_replicas": 5, "spec": {"type": "External"}, "error": "failed to get external metric: ..."}
        self.assertEqual(evaluate.evaluate(payload([entry, failed], 5)), {"targetReplicas": 5})
        self.assertEqual(evaluate.evaluate(payload([entry], 5)), {"targetReplicas": 1})

    def test_keeps_replicas_without_cpu_data(self):
        self.assertEqual(evaluate.evaluate(payload([], 3)), {"targetReplicas": 3})


class ScriptsTest(unittest.TestCase):
    def run_script(self, name, stdin):
        return subprocess.run([sys.executable, str(HERE / name)], input=stdin, capture_output=True, text=True, check=True).stdout

    def test_sample_inputs(self):
        metric_output = self.run_script("metric.py", (HERE / "sample-input" / "metric.json").read_text())
        self.assertEqual(json.loads(metric_output)[0]["resource"]["ready_pod_count"], 1)
        evaluate_input = json.loads((HERE / "sample-input" / "evaluate.json").read_text())
        self.assertEqual(evaluate_input["metrics"][0]["value"], metric_output)
        self.assertEqual(json.loads(self.run_script("evaluate.py", json.dumps(evaluate_input))), {"targetReplicas": 5})


if __name__ == "__main__":
    unittest.main()
