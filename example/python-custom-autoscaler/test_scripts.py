"""Tests for the example's metric and evaluate scripts, run as the agent runs them.

Each test starts the script as a child process with the JSON payload on standard input and
checks the exit status, standard output and standard error.
Run: python3 -m unittest discover -s example/python-custom-autoscaler
"""
import json
import pathlib
import subprocess
import sys
import unittest

HERE = pathlib.Path(__file__).resolve().parent
SAMPLE_INPUT = HERE / "sample-input"


def run_script(name, stdin_text):
    """Run the script `name` from this folder with `stdin_text` on standard input."""
    return subprocess.run(
        [sys.executable, str(HERE / name)],
        input=stdin_text,
        capture_output=True,
        text=True,
        timeout=30,
    )


def metric_input(labels):
    resource = {"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"name": "hello-kubernetes"}}
    if labels is not None:
        resource["metadata"]["labels"] = labels
    return json.dumps({"resource": resource, "runType": "scaler"})


def evaluate_input(values):
    metrics = [{"resource": "hello-kubernetes", "value": value} for value in values]
    return json.dumps({"metrics": metrics, "runType": "scaler", "currentReplicas": 1})


class MetricScriptTest(unittest.TestCase):
    def test_prints_label_value(self):
        result = run_script("metric.py", metric_input({"numPods": "3", "app": "hello"}))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "3")

    def test_sample_input(self):
        result = run_script("metric.py", (SAMPLE_INPUT / "metric.json").read_text())
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "3")

    def test_missing_label_fails(self):
        result = run_script("metric.py", metric_input({"app": "hello"}))
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout, "")
        self.assertIn("Missing label 'numPods'", result.stderr)

    def test_no_labels_fails(self):
        result = run_script("metric.py", metric_input(None))
        self.assertEqual(result.returncode, 1)
        self.assertIn("Missing label 'numPods'", result.stderr)

    def test_invalid_json_fails(self):
        result = run_script("metric.py", "{not json")
        self.assertEqual(result.returncode, 1)
        self.assertIn("Invalid JSON", result.stderr)


class EvaluateScriptTest(unittest.TestCase):
    def test_integer_value(self):
        result = run_script("evaluate.py", evaluate_input(["3"]))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.loads(result.stdout), {"targetReplicas": 3})

    def test_sample_input(self):
        result = run_script("evaluate.py", (SAMPLE_INPUT / "evaluate.json").read_text())
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.loads(result.stdout), {"targetReplicas": 3})

    def test_value_with_newline(self):
        result = run_script("evaluate.py", evaluate_input(["5\n"]))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.loads(result.stdout), {"targetReplicas": 5})

    def test_non_integer_values_fail(self):
        for value in ["three", "2.5", ""]:
            with self.subTest(value=value):
                result = run_script("evaluate.py", evaluate_input([value]))
                self.assertEqual(result.returncode, 1)
                self.assertEqual(result.stdout, "")
                self.assertIn("Invalid metric value", result.stderr)

    def test_no_metrics_fails(self):
        result = run_script("evaluate.py", evaluate_input([]))
        self.assertEqual(result.returncode, 1)
        self.assertIn("Missing metric value", result.stderr)


class EvaluateDoubleScriptTest(unittest.TestCase):
    def test_doubles_value(self):
        result = run_script("evaluate-double.py", evaluate_input(["3"]))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.loads(result.stdout), {"targetReplicas": 6})

    def test_zero_stays_zero(self):
        result = run_script("evaluate-double.py", evaluate_input(["0"]))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.loads(result.stdout), {"targetReplicas": 0})

    def test_non_integer_value_fails(self):
        result = run_script("evaluate-double.py", evaluate_input(["three"]))
        self.assertEqual(result.returncode, 1)
        self.assertIn("Invalid metric value", result.stderr)


if __name__ == "__main__":
    unittest.main()
