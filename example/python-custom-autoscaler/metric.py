"""Metric stage of the example autoscaler: print the numPods label of the managed resource.

The agent runs this script once per cycle (runMode: per-resource) and writes a JSON object
to its standard input, {"resource": <the managed object>, "runType": "scaler"}.
Standard output becomes the metric value that the evaluate stage receives.
"""
import json
import sys

LABEL = "numPods"


def get_dict(value, key):
    """Return value[key] when value is a dict and value[key] is a dict, else an empty dict."""
    item = value.get(key) if isinstance(value, dict) else None
    return item if isinstance(item, dict) else {}


def main():
    try:
        spec = json.load(sys.stdin)
    except json.JSONDecodeError as err:
        sys.stderr.write(f"Invalid JSON on standard input: {err}\n")
        return 1

    resource = get_dict(spec, "resource")
    metadata = get_dict(resource, "metadata")
    labels = get_dict(metadata, "labels")
    if LABEL not in labels:
        name = f"{resource.get('kind', 'resource')} {metadata.get('name', '(no name)')}"
        sys.stderr.write(f"Missing label '{LABEL}' on {name}: add it with the replica count, e.g. {LABEL}: \"3\"\n")
        return 1

    # The agent passes standard output on unchanged, so no newline is added: the value stays "3".
    sys.stdout.write(str(labels[LABEL]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
