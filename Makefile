# Two entry points: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test demo lint bench chaos clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "guardbot needs Python >= 3.11, found " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check guardbot strategies tests bench
	$(BIN)/ruff format --check guardbot strategies tests bench
	$(BIN)/mypy guardbot strategies

test: lint
	$(BIN)/pytest -q

demo: $(STAMP)
	$(BIN)/guardbot demo

bench: $(STAMP)
	$(BIN)/python -m bench.run

# The long fault-injection run (make test runs 2 short ones); its tally goes to bench/results/.
chaos: $(STAMP)
	@mkdir -p bench/results
	CHAOS_EXAMPLES=$${CHAOS_EXAMPLES:-40} CHAOS_STEPS=$${CHAOS_STEPS:-15} \
	CHAOS_REPORT=bench/results/chaos.json $(BIN)/pytest -q tests/chaos

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
