"""Add weights made by ``scripts/train_mnist.py`` to the ones minidl ships (a maintainer's tool):

    python -m minidl.zoo.ship run.json weights.safetensors "OPENBLAS_NUM_THREADS=1 python scripts/train_mnist.py ..."

``run.json`` is the run's ``--metrics-json`` file, the weights its ``--save-weights`` file and the last
argument the exact command. The file is copied to ``minidl/zoo/weights/MODEL-DATASET.safetensors`` and
its entry in ``manifest.json`` (sha256, input shape, test accuracy, epochs, seconds per epoch, command)
replaced.
"""
import argparse
import hashlib
import json
import shutil
import statistics
from pathlib import Path

from .. import data
from .pretrained import MANIFEST


def ship(metrics_json: str, weights_file: str, command: str, folder: Path, commit: str = "") -> dict:
    """Copy ``weights_file`` into ``folder`` and record it in the manifest there; returns the entry."""
    run = json.loads(Path(metrics_json).read_text())
    args, history = run["args"], run["history"]
    if len(history) != args["epochs"]:
        raise ValueError(f"{metrics_json}: {len(history)} of {args['epochs']} epochs ran; ship finished runs only")
    test_set = data.load_dataset(args["dataset"], "test", args.get("data_dir"), download=False)
    name = f"{args['model']}-{args['dataset']}.safetensors"
    shutil.copyfile(weights_file, folder / name)
    entry = {"file": name, "sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest(),
             "input_shape": list(test_set.input_shape), "num_classes": len(test_set.classes),
             "test_accuracy": history[-1]["test_accuracy"], "epochs": len(history),
             "seconds_per_epoch": round(statistics.median(h["seconds"] for h in history), 2), "command": command,
             "commit": commit}
    manifest_path = folder / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest.setdefault(args["model"], {})[args["dataset"]] = entry
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return entry


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("metrics_json")
    p.add_argument("weights_file")
    p.add_argument("command")
    p.add_argument("--commit", default="", help="the minidl commit the run used")
    a = p.parse_args(argv)
    print(json.dumps(ship(a.metrics_json, a.weights_file, a.command, Path(__file__).parent / "weights", a.commit),
                     indent=2))


if __name__ == "__main__":
    main()
