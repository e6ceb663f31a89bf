"""Does adaptation help on the target camera? Short srx adapt runs on a synthetic two-camera DRealSR set.

The dataset is built from real photos (scikit-image data): the source camera ("sony") blurs lightly with
little noise, the target camera ("olympus") blurs more and adds more noise (``tests/synthetic.py``). Each
method runs with reduced iterations on CPU (``--iters``), then its adapted model and the model it started
from are scored on the target camera's test images (cdc protocol). Prints, per method, both scores and each
stage's losses (mean of the first and of the last quarter of the logged values), and last
``adapted_minus_<baseline>_db=<...>`` per method. DASR starts from DDNSR's source-only RRDB when the ddnsr
run exists, so it too has a source-only baseline. These runs are far shorter than the paper schedules: they
check direction, not the papers' numbers.

For fda it also trains the same networks with L_rec alone (``fda-rec``) and prints, at iteration 0 and at
every validation, D_f's mean output on target/source features and the linear-probe accuracy. FDA trains every
network from scratch, so it runs with the smoke-size networks (G_SR with 2 RRDBs, G_t with 2 blocks) for
``--fda-iters`` iterations: alignment needs more steps than the paper-size networks allow on 2 cores.
``--fda-lambda-align`` changes the weight of E's alignment loss in the full fda run (srx's default 0.01);
fda-rec does not use it and is the same run at every weight.

    python benchmarks/adapt_evidence.py [--methods ddnsr,dasr,fda,dada] [--iters 200] [--out bench_out/adapt]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tests.synthetic

from dualsr_cli.recipes import run_adapt
from dualsr_cli.recipes.config import FDA_LAMBDA_ALIGN, AdaptConfig
from tests.synthetic import camera_models, make_drealsr


def loss_trends(log_path: Path) -> dict[str, dict[str, tuple[float, float]]]:
    """Per stage and loss: the mean over the first and over the last quarter of the logged values."""
    series: dict[str, dict[str, list[float]]] = {}
    for line in log_path.read_text().splitlines():
        record = json.loads(line)
        for name, value in record.get("losses", {}).items():
            series.setdefault(record["stage"], {}).setdefault(name, []).append(value)
    trends = {}
    for stage, losses in series.items():
        trends[stage] = {}
        for name, values in losses.items():
            quarter = max(len(values) // 4, 1)
            trends[stage][name] = (statistics.fmean(values[:quarter]), statistics.fmean(values[-quarter:]))
    return trends


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="ddnsr,dasr,fda,dada")
    parser.add_argument("--iters", type=int, default=200, help="iterations per training stage")
    parser.add_argument("--fda-iters", type=int, default=600, help="iterations of the fda runs (smoke-size nets)")
    parser.add_argument(
        "--fda-lambda-align", type=float, default=FDA_LAMBDA_ALIGN, help="weight of fda's alignment loss"
    )
    parser.add_argument("--patch", type=int, default=16, help="LR patch side")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--out", default="bench_out/adapt")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    out = Path(args.out)
    data = out / "data"
    if not (data / "x4").exists():
        make_drealsr(
            data, camera_models(["sony", "olympus"]), train_patches=64, test_images=4, patch_hr=96, test_hr=128
        )
    summary = {}
    runs = []
    for method in args.methods.split(","):
        runs.append((method, method, "full"))
        if method == "fda":
            runs.append(("fda-rec", "fda", "rec"))
    for label, method, losses in runs:
        start = time.perf_counter()
        patch = max(args.patch, 24) if method == "fda" else args.patch
        # DASR trains its SRN from scratch; started from DDNSR's source-only RRDB it has a source-only baseline
        source_only = out / "ddnsr" / "checkpoints" / "1-source-rrdb" / "best.pt"
        warm = source_only if method == "dasr" and source_only.exists() else None
        iters = args.fda_iters if method == "fda" else args.iters
        align = args.fda_lambda_align if method == "fda" and losses == "full" else FDA_LAMBDA_ALIGN  # rec: unused
        config = AdaptConfig(
            method=method,
            data=data,
            source="sony",
            target="olympus",
            out=out / label,
            iters=iters,
            batch_size=args.batch,
            patch_size=patch,
            val=4,
            eval_every=max(iters // 4, 1),
            save_every=iters,
            perceptual="none",
            device=args.device,
            fda_losses=losses,
            source_weights=warm,
            fda_lambda_align=align,
            preset="smoke" if method == "fda" else "paper",
            resume=(out / label / "config.json").exists(),
        )
        result = run_adapt(config)
        minutes = (time.perf_counter() - start) / 60
        baseline = next(k for k in result.test if k != "adapted")
        gain = result.test["adapted"]["psnr"] - result.test[baseline]["psnr"]
        summary[label] = {"baseline": baseline, **result.test, "gain_db": gain, "minutes": minutes}
        print(
            f"{label:8s} {baseline}: {result.test[baseline]['psnr']:.2f} dB / {result.test[baseline]['ssim']:.4f}"
            f"   adapted: {result.test['adapted']['psnr']:.2f} dB / {result.test['adapted']['ssim']:.4f}"
            f"   ({iters} it/stage, {minutes:.1f} min)",
            flush=True,
        )
        summary[label]["losses_first_last_quarter"] = trends = loss_trends(out / label / "log.jsonl")
        for stage, values in trends.items():
            shown = ", ".join(f"{name} {a:.3g}->{b:.3g}" for name, (a, b) in values.items())
            print(f"         {stage}: {shown}", flush=True)
        if method == "fda":  # D_f is trained only with the full losses; the probe means something in both runs
            lines = (out / label / "log.jsonl").read_text().splitlines()
            records = [json.loads(line) for line in lines if '"validation"' in line]
            for record in records:
                v = record["validation"]
                d_f = (
                    f"D_f(target) {v['D_f_on_target']:.3f}, D_f(source) {v['D_f_on_source']:.3f}, "
                    if losses == "full"
                    else ""
                )
                print(
                    f"         {label} iteration {record['iteration']}: {d_f}probe accuracy {v['probe_accuracy']:.3f}",
                    flush=True,
                )
            validations = [record["validation"] for record in records]
            summary[label]["alignment"] = {"iteration_0": validations[0], "last": validations[-1]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    if "fda" in summary and "fda-rec" in summary:
        fda_gain = summary["fda"]["adapted"]["psnr"] - summary["fda-rec"]["adapted"]["psnr"]
        print(f"fda_minus_rec_only_db={fda_gain:.3f}")
    for label, row in summary.items():
        print(f"adapted_minus_{row['baseline'].replace('-', '_')}_db[{label}]={row['gain_db']:.3f}")


if __name__ == "__main__":
    main()
