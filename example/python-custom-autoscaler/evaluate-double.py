"""Evaluate stage of the example autoscaler, second version: scale to twice the numPods label.

The image installs it as /evaluate.py when built with EVALUATE_SCRIPT=evaluate-double.py. The
input and the errors are those of evaluate.py: for a metric value of "3" it prints
{"targetReplicas": 6}.
"""
import json
import sys


def evaluate(spec):
    """Return the evaluation for spec: twice the first metric value as the target replica count.

    Raises ValueError when the value is not an integer, and KeyError, IndexError or TypeError
    when the input has no metric value.
    """
    value = spec["metrics"][0]["value"]
    try:
        replicas = int(value)
    except ValueError:
        raise ValueError(f"Invalid metric value {value!r}: expected an integer such as \"3\"") from None
    return {"targetReplicas": replicas * 2}


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
