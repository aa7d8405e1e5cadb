# Two commands set cryopick up from nothing but Python 3.11 and the package registries:
#   make demo   - simulate a small dataset, pick it with the bundled general model (no labels),
#                 evaluate it, write a report in results/demo
#   make test   - run the test suite
# CUDA users: make test TORCH_SPEC="torch==2.13.0 --index-url <your CUDA wheel index>"
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
DEMO := results/demo

.PHONY: demo test install clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

demo: install
	$(BIN)/cryopick simulate $(DEMO)/data --n 6 --size 1536 --apix 2.0 --seed 0
	$(BIN)/cryopick pick $(DEMO)/data/micrographs --diameter 120 -o $(DEMO)/picks.star
	$(BIN)/cryopick evaluate --picks $(DEMO)/picks.star --truth $(DEMO)/data/truth.star \
		--micrographs $(DEMO)/data/micrographs --out $(DEMO)/report
	$(BIN)/cryopick report --picks $(DEMO)/picks.star $(DEMO)/data/micrographs --truth $(DEMO)/data/truth.star \
		-o $(DEMO)/report.html
	$(BIN)/cryopick review $(DEMO)/data/micrographs/mic_0000.mrc $(DEMO)/data/micrographs/mic_0001.mrc \
		--picks $(DEMO)/picks.star -o $(DEMO)/review.html
	@echo "Demo report: $(DEMO)/report.html (one page; metrics.json, pr_curve.png, overlay_*.png in $(DEMO)/report)"
	@echo "Review the picks by hand: $(DEMO)/review.html (docs/review.md)"

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) results build src/*.egg-info
