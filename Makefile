# srx developer entry points. `make demo` and `make test` each create the virtual environment on demand.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_IMAGE := dualsr_cli/samples/realsr_canon_0A5A4954_LR.png
DEMO_ITERS ?= 300

.PHONY: demo test bench lint venv clean

venv: $(STAMP)

# torch/torchvision are pinned in pyproject.toml (torch==2.14.1, torchvision==0.29.1); pip takes them
# from this machine's local wheel index and never resolves a newer torch.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	@echo "srx demo: DualSR zero-shot x2 on a real RealSR photo ($(DEMO_IMAGE), 1440x960)."
	@echo "This is a SHORT run: $(DEMO_ITERS) training iterations instead of the paper's 3000, so the learned"
	@echo "kernel and upsampler are less refined than a full-quality run (srx zero-shot IMAGE, ~20 min here)."
	$(BIN)/srx zero-shot $(DEMO_IMAGE) --iters $(DEMO_ITERS) --out demo_out --save-kernel --save-comparison --json demo_out/summary.json
	@echo "Done: demo_out/realsr_canon_0A5A4954_LR_x2.png (2880x1920), kernel in demo_out/*_kernel_x2.{mat,png}, bicubic vs srx in demo_out/*_comparison_x2.png."

# Two workers on the two cores; tests sharing an expensive session fixture stay on one (xdist_group).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

bench: $(STAMP)
	$(BIN)/python benchmarks/zero_shot_speed.py
	$(BIN)/python benchmarks/zero_shot_quality.py --iters 500 --images astronaut

lint: $(STAMP)
	$(BIN)/ruff check dualsr_cli tests benchmarks
	$(BIN)/ruff format --check dualsr_cli tests benchmarks

clean:
	rm -rf $(VENV) demo_out results bench_out .pytest_cache
