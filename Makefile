# qwen3-eas: every command a user or CI runs. Needs only python3 (3.11+) and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)
STACKS := dev staging prod

.PHONY: help venv plan plans diff capacity pin smoke test lint typecheck unit bench schema golden lock clean conformance e2e

help:
	@echo "make plan STACK=<name>   offline plan of stacks/Pulumi.<name>.yaml into build/<name> [CAPACITY=<snapshot>]"
	@echo "make diff STACK=<name> BASE=<ref>  per-service diff of the plan against a git ref (Markdown)"
	@echo "make capacity REGIONS=.. write a capacity snapshot from the live EAS API"
	@echo "make pin STACK=<name>    record where each service runs (sticky placement)"
	@echo "make smoke STACK=<name>  check a deployed stack's live API [OUTPUTS=<outputs json>]"
	@echo "make test                lint, type check and tests (what CI runs)"
	@echo "make bench               offline-plan timings against a bare-resource baseline"
	@echo "make schema              JSON Schema of the stack config (schema/stack-config.schema.json)"
	@echo "make golden              refresh tests/golden from the example stacks"
	@echo "make e2e                 boot vLLM's CPU build from our rendered start script, check its API"
	@echo "make conformance         every rendered start command through the real vLLM/SGLang parsers [ONLY=vllm|sglang-0.5.17] [ENGINE_CACHE=dir]"

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-input -r requirements.txt
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

plan: $(STAMP)
	@test -n "$(STACK)" || { echo "usage: make plan STACK=<name>  (stacks: $(STACKS))" >&2; exit 2; }
	$(BIN)/python -m components.cli.plan $(STACK) --out build/$(STACK) $(if $(CAPACITY),--capacity $(CAPACITY))

plans: $(STAMP)
	@for s in $(STACKS); do $(BIN)/python -m components.cli.plan $$s --out build/$$s || exit 1; done

capacity: $(STAMP)
	@test -n "$(REGIONS)" || { echo 'usage: make capacity REGIONS="cn-hangzhou cn-wulanchabu" [OUT=capacity.json]' >&2; exit 2; }
	$(BIN)/python -m components.cli.capacity --regions "$(REGIONS)" --out $(or $(OUT),capacity.json)

pin: $(STAMP)
	@test -n "$(STACK)" || { echo "usage: make pin STACK=<name> [OUTPUTS=<file>]" >&2; exit 2; }
	$(BIN)/python -m components.cli.pin --stack $(STACK) $(if $(OUTPUTS),--outputs $(OUTPUTS))

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m bench.plan_bench

schema: $(STAMP)
	$(BIN)/python -m components.cli.schema --out schema/stack-config.schema.json

golden: $(STAMP)
	$(BIN)/python -m tests.golden_update

lock: $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements.in
	@{ echo "# Generated from requirements.in by 'make lock'; every package pinned."; \
	   $(BIN)/python -m pip freeze --all | grep -vE '^(pip|setuptools|wheel)=='; } > requirements.txt

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache .hypothesis

smoke: $(STAMP)
	@test -n "$(STACK)$(OUTPUTS)" || { echo "usage: make smoke STACK=<name> [OUTPUTS=<file>]" >&2; exit 2; }
	$(BIN)/python -m components.cli.smoke $(if $(STACK),--stack $(STACK)) $(if $(OUTPUTS),--outputs $(OUTPUTS))

# The command is not echoed, so that the output is only the diff (paste it into a PR).
diff: $(STAMP)
	@test -n "$(STACK)" -a -n "$(BASE)" || { echo "usage: make diff STACK=<name> BASE=<git ref> [OUT=<file>]" >&2; exit 2; }
	@$(BIN)/python -m components.cli.diff $(STACK) --base $(BASE) $(if $(OUT),--out $(OUT))

# Engine environments (several GB) live in ENGINE_CACHE, default .cache/engines (git-ignored).
# See docs/engines-conformance.md for when to run these and how long they take.
conformance: $(STAMP)
	$(BIN)/python -m conformance.run $(foreach o,$(ONLY),--only $(o))

e2e: $(STAMP)
	$(BIN)/python -m conformance.e2e
