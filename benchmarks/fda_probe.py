"""How camera-specific are FDA encoders' features? A larger linear probe than the one srx logs during training.

The in-training probe (``FDAStage.feature_report``) uses 64 patches per camera and the features' per-channel
mean and standard deviation; with that few held-out points it is noisy. This script loads the final encoder
of finished ``adapt_evidence.py`` fda runs (and rebuilds their untrained encoder from the seed), draws
``--patches`` fixed LR patches per camera, and prints the held-out accuracy of the same logistic probe on
(a) mean+std and (b) mean+std+high-pass energy (|f − 3×3 mean of f|, where noise and blur show) of the features.
Lower means less camera-specific; 0.5 is chance.

    python benchmarks/fda_probe.py bench_out/fda_align001/fda bench_out/fda_align001/fda-rec [--patches 256]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from dualsr_cli.archs.fda import Encoder, TargetDecoder
from dualsr_cli.archs.rrdb import RRDBNet, init_rrdb
from dualsr_cli.recipes.data import ImageCache, PatchSampler, load_cross_camera
from dualsr_cli.recipes.fda import SMOKE_SIZES, linear_probe_accuracy


def moments(features: torch.Tensor) -> torch.Tensor:
    return torch.cat([features.mean(dim=(2, 3)), features.std(dim=(2, 3))], dim=1)


def moments_and_high_pass(features: torch.Tensor) -> torch.Tensor:
    local_mean = torch.nn.functional.avg_pool2d(features, 3, 1, 1, count_include_pad=False)
    return torch.cat([moments(features), (features - local_mean).abs().mean(dim=(2, 3))], dim=1)


def untrained_encoder(config: dict) -> Encoder:
    """The encoder FDAStage starts from: same seed, same construction order (smoke-size networks)."""
    torch.manual_seed(config["seed"] + 20)
    encoder = Encoder()
    RRDBNet(in_nc=64, nb=SMOKE_SIZES["nb"], scale=config["scale"])
    TargetDecoder(blocks=SMOKE_SIZES["gt_blocks"])
    init_rrdb(encoder)
    return encoder


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
    data = load_cross_camera(config["data"], config["source"], config["target"], scale=config["scale"],
                             val=config["val"])  # fmt: skip
    cache = ImageCache()
    patch = config["patch_size"]
    x_source, _, _ = PatchSampler(data.source_train, scale=data.scale, lr_patch=patch, seed=1234,
                                  cache=cache).draw(args.patches, with_hr=False)  # fmt: skip
    x_target, _, _ = PatchSampler(data.target_train, scale=data.scale, lr_patch=patch, seed=4321,
                                  cache=cache).draw(args.patches, with_hr=False)  # fmt: skip
    encoders = [("untrained", untrained_encoder(config))]
    for run in args.runs:
        run_config = json.loads((run / "config.json").read_text())
        label = f"{run} (losses {run_config['fda_losses']}, lambda_align {run_config.get('fda_lambda_align', 0.01)})"
        encoders.append((label, trained_encoder(run)))
    print(f"{args.patches} patches per camera ({patch} px), half held out; probe accuracy, 0.5 = chance")
    for label, encoder in encoders:
        with torch.inference_mode():
            f_source, f_target = encoder.eval()(x_source), encoder(x_target)
        a = linear_probe_accuracy(moments(f_target), moments(f_source))
        b = linear_probe_accuracy(moments_and_high_pass(f_target), moments_and_high_pass(f_source))
        print(f"{label}: mean+std {a:.3f}   mean+std+high-pass {b:.3f}", flush=True)


if __name__ == "__main__":
    main()
