"""How camera-specific are the features of FDA encoders at the start and the end of training?

Loads the final encoder of finished ``adapt_evidence.py`` fda runs (and rebuilds their untrained encoder from
the seed) and prints the accuracy of the probe srx logs in training (``encoder_probe``: logistic regression on
the features' per-channel mean, std and high-pass energy, fitted on half the images of each camera and scored
on the other half) with ``--patches`` fixed LR patches per camera. Lower means less camera-specific; 0.5 is
chance. Several runs on one data set share the same patches, so their numbers compare directly.

    python benchmarks/fda_probe.py bench_out/fda_align001/fda bench_out/fda_align001/fda-rec [--patches 256]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from dualsr_cli.archs.fda import Encoder
from dualsr_cli.recipes.config import FDA_LAMBDA_ALIGN
from dualsr_cli.recipes.data import ImageCache, load_cross_camera
from dualsr_cli.recipes.fda import build_generators, encoder_probe, probe_patches


def trained_encoder(run: Path) -> Encoder:
    checkpoint = torch.load(run / "checkpoints" / "fda" / "final.pt", map_location="cpu", weights_only=True)
    encoder = Encoder()
    encoder.load_state_dict({k[2:]: v for k, v in checkpoint["model"].items() if k.startswith("E.")})
    return encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="fda run directories written by adapt_evidence.py")
    parser.add_argument("--patches", type=int, default=256, help="LR patches per camera")
    args = parser.parse_args()
    config = json.loads((args.runs[0] / "config.json").read_text())
    data = load_cross_camera(
        config["data"], config["source"], config["target"], scale=config["scale"], val=config["val"]
    )
    x_target, x_source, held_out = probe_patches(data, config["patch_size"], ImageCache(), args.patches)
    untrained, _, _ = build_generators(config["seed"], smoke=config["preset"] == "smoke", scale=config["scale"])
    encoders = [("untrained", untrained)]
    for run in args.runs:
        run_config = json.loads((run / "config.json").read_text())
        weight = run_config.get("fda_lambda_align", FDA_LAMBDA_ALIGN)
        label = f"{run} (losses {run_config['fda_losses']}, lambda_align {weight})"
        encoders.append((label, trained_encoder(run)))
    print(f"{args.patches} patches per camera ({config['patch_size']} px); probe accuracy on held-out images")
    for label, encoder in encoders:
        with torch.inference_mode():
            accuracy = encoder_probe(encoder.eval()(x_target), encoder(x_source), held_out)
        print(f"{label}: {accuracy:.3f}", flush=True)


if __name__ == "__main__":
    main()
