"""Evaluate stage of the example autoscaler: scale to the number in the numPods label.

The agent writes a JSON object to standard input whose "metrics" list contains the output of
the metric stage, e.g. {"metrics": [{"resource": "hello-kubernetes", "value": "3"}], ...}.
The script prints {"targetReplicas": 3}. A value that is not an integer is an error, so the
agent logs the message and leaves the replica count as it is.
"""
import json
import sys


def evaluate(spec):
    """Return the evaluation for spec: the first metric value as the target replica count.

    Raises ValueError when the value is not an integer, and KeyError, IndexError or TypeError
    when the input has no metric value.
    """
    value = spec["metrics"][0]["value"]
    try:
        replicas = int(value)
    except ValueError:
        raise ValueError(f"Invalid metric value {value!r}: expected an integer such as \"3\"") from None
    return {"targetReplicas": replicas}


def main():
    try:
        spec = json.load(sys.stdin)
    except json.JSONDecodeError as err:
        sys.stderr.write(f"Invalid JSON on standard input: {err}\n")
        return 1

    try:
        evaluation = evaluate(spec)
    except ValueError as err:
        sys.stderr.write(f"{err}\n")
        return 1
    except (KeyError, IndexError, TypeError):
        sys.stderr.write("Missing metric value: the input must contain metrics[0].value\n")
        return 1

    sys.stdout.write(json.dumps(evaluation))
    return 0


if __name__ == "__main__":
    sys.exit(main())
