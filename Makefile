# Two entry points: `make demo` and `make test`. Both create .venv when it is missing.
# `make demo` installs guardbot and what it needs to run; `make test` adds the dev tools
# (pytest, ruff, mypy, hypothesis). pip shows what it downloads and installs as it goes.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
DEV     := $(VENV)/.installed-dev

.PHONY: test demo lint bench chaos image-replay clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "guardbot needs Python >= 3.11, found " + sys.version.split()[0])'
	@echo "creating $(VENV) ..."
	$(PYTHON) -m venv $(VENV)

$(RUNTIME): pyproject.toml | $(BIN)/python
	@echo "installing guardbot and its runtime dependencies into $(VENV) (the first time takes a minute or two) ..."
	$(BIN)/python -m pip install --progress-bar on --disable-pip-version-check -e .
	@touch $@

$(DEV): $(RUNTIME) pyproject.toml
	@echo "installing the dev tools (pytest, ruff, mypy, hypothesis) into $(VENV) ..."
	$(BIN)/python -m pip install --progress-bar on --disable-pip-version-check -e '.[dev]'
	@touch $@

lint: $(DEV)
	$(BIN)/ruff check guardbot strategies tests bench deploy
	$(BIN)/ruff format --check guardbot strategies tests bench deploy
	$(BIN)/mypy guardbot strategies deploy/replay_image.py

test: lint
	$(BIN)/pytest -q

demo: $(RUNTIME)
	$(BIN)/guardbot demo

bench: $(RUNTIME)
	$(BIN)/python -m bench.run

# The long fault-injection run (make test runs 2 short ones); its tally goes to bench/results/.
chaos: $(DEV)
	@mkdir -p bench/results
	CHAOS_EXAMPLES=$${CHAOS_EXAMPLES:-40} CHAOS_STEPS=$${CHAOS_STEPS:-15} \
	CHAOS_REPORT=bench/results/chaos.json $(BIN)/pytest -q tests/chaos

# The Dockerfile's build and run steps replayed without a Docker engine (deploy/replay_image.py):
# a fresh install from the registry at constraints.txt, run as uid 10001 against the emulator.
image-replay: $(RUNTIME)
	$(BIN)/python deploy/replay_image.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
