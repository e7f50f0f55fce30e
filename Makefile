# qwen3-eas: every command a user or CI runs. Needs only python3 (3.11+) and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CLI    := $(BIN)/qwen3-eas
# The stamp changes with the lock file and with the project's own packaging (pyproject.toml).
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
# Every stacks/Pulumi.<name>.yaml is a stack (the same list as `qwen3-eas stacks`).
STACKS := $(sort $(patsubst stacks/Pulumi.%.yaml,%,$(wildcard stacks/Pulumi.*.yaml)))
# The tools word their hints for make (CAPACITY=, OUTPUTS=) rather than for their own flags.
export QWEN3_EAS_VIA_MAKE := 1

.PHONY: help venv init stacks plan plans diff capacity pin smoke test lint typecheck unit bench schema golden lock clean conformance e2e pulumi-cli lifecycle

help:
	@echo "make init STACK=<name>   new stacks/Pulumi.<name>.yaml from the commented template"
	@echo "make stacks              list the stacks, one name per line"
	@echo "make plan STACK=<name>   offline plan of stacks/Pulumi.<name>.yaml into build/<name> [CAPACITY=<snapshot>] [OUTPUTS=<outputs json>]"
	@echo "make diff STACK=<name> BASE=<ref>  per-service step the engine takes, against what runs (Markdown) [OUTPUTS=<outputs json>] [CAPACITY=<snapshot>] [OUT=<file>] [JSON=<file>]"
	@echo "make capacity REGIONS=.. write a capacity snapshot from the live EAS API (or STACK=<name>: its regions)"
	@echo "make pin STACK=<name>    record where each service runs (sticky placement)"
	@echo "make smoke STACK=<name>  check a deployed stack's live API [OUTPUTS=<outputs json>]"
	@echo "make test                lint, type check and tests (what CI runs)"
	@echo "make bench               offline-plan timings (100, 1000 services), in-process, whole-process and under the real engine, against a same-graph baseline"
	@echo "make schema              JSON Schema of the stack config (schema/stack-config.schema.json)"
	@echo "make golden              refresh tests/golden from the example stacks"
	@echo "make e2e                 boot vLLM's CPU build from our rendered start script, check its API"
	@echo "make conformance         every rendered start command through the real vLLM/SGLang parsers [ONLY=vllm|sglang-0.5.17] [ENGINE_CACHE=dir]"
	@echo "make pulumi-cli          build the pinned Pulumi CLI from Go modules into .cache/pulumi/bin (needs Go 1.26)"
	@echo "make lifecycle           day-1 and day-2 scenarios under the real Pulumi engine, stand-in provider, fake EAS"

# The project itself goes in editable (no dependencies of its own: the lock file has them all), so
# `qwen3-eas` and Pulumi's dynamic-provider host import this working tree from any directory.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-input -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-input --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

plan: $(STAMP)
	@test -n "$(STACK)" || { echo "usage: make plan STACK=<name>  (stacks: $(STACKS))" >&2; exit 2; }
	$(CLI) plan $(STACK) --out build/$(STACK) $(if $(CAPACITY),--capacity $(CAPACITY)) $(if $(OUTPUTS),--outputs $(OUTPUTS))

plans: $(STAMP)
	@for s in $$($(CLI) stacks); do $(CLI) plan $$s --out build/$$s || exit 1; done

stacks: $(STAMP)
	@$(CLI) stacks

init: $(STAMP)
	@test -n "$(STACK)" || { echo "usage: make init STACK=<name>  (existing stacks: $(STACKS))" >&2; exit 2; }
	$(CLI) init "$(STACK)"

capacity: $(STAMP)
	@test -n "$(REGIONS)$(STACK)" || { echo 'usage: make capacity REGIONS="cn-hangzhou cn-wulanchabu" | STACK=<name> [OUT=capacity.json]' >&2; exit 2; }
	$(CLI) capacity $(if $(STACK),--stack $(STACK),--regions "$(REGIONS)") --out $(or $(OUT),capacity.json)

pin: $(STAMP)
	@test -n "$(STACK)" || { echo "usage: make pin STACK=<name> [OUTPUTS=<file>]" >&2; exit 2; }
	$(CLI) pin --stack $(STACK) $(if $(OUTPUTS),--outputs $(OUTPUTS))

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Subprocesses of the tests inherit this: the credentials chain never asks the ECS metadata address.
# One worker per core, at most 4, a test file per worker (module fixtures build once): 63 s -> 44 s
# on 2 cores. Run one file with plain `.venv/bin/python -m pytest tests/x.py`.
unit: $(STAMP)
	ALIBABA_CLOUD_ECS_METADATA_DISABLED=true $(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadfile

test: lint typecheck unit

# Each module prints its own Markdown section; a new benchmark is one more name here. The engine
# bench runs preview and up under the real CLI, which it builds first when missing (make pulumi-cli).
BENCHES := bench.plan_bench bench.process_bench bench.engine_bench

bench: $(STAMP) pulumi-cli
	@for module in $(BENCHES); do echo "$(BIN)/python -m $$module"; \
	  ALIBABA_CLOUD_ECS_METADATA_DISABLED=true $(BIN)/python -m $$module || exit 1; done

schema: $(STAMP)
	$(CLI) schema --out schema/stack-config.schema.json

golden: $(STAMP)
	$(BIN)/python -m tests.golden_update

lock: $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements.in
	@{ echo "# Generated from requirements.in by 'make lock'; every package pinned."; \
	   $(BIN)/python -m pip freeze --all --exclude-editable | grep -vE '^(pip|setuptools|wheel)=='; } > requirements.txt

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache .hypothesis

# make exits 2 whenever a recipe fails, so the tool's own status (1: a check failed, 2: the test
# could not start) is said in words here and shows as make's "Error 1" / "Error 2"; a pipeline that
# must tell them apart by status runs `.venv/bin/qwen3-eas smoke` itself.
smoke: $(STAMP)
	@test -n "$(STACK)$(OUTPUTS)" || { echo "usage: make smoke STACK=<name> [OUTPUTS=<file>]" >&2; exit 2; }
	@$(CLI) smoke $(if $(STACK),--stack $(STACK)) $(if $(OUTPUTS),--outputs $(OUTPUTS)) || { status=$$?; \
	  case $$status in 1) why="a check failed";; 2) why="the smoke test could not start";; *) why="unexpected";; esac; \
	  echo "make smoke: qwen3-eas smoke exited $$status ($$why)" >&2; exit $$status; }

# The command is not echoed, so that the output is only the diff (paste it into a PR).
diff: $(STAMP)
	@test -n "$(STACK)" -a -n "$(BASE)" || { echo "usage: make diff STACK=<name> BASE=<git ref> [OUTPUTS=<outputs json>] [CAPACITY=<snapshot>] [OUT=<file>] [JSON=<file>]" >&2; exit 2; }
	@$(CLI) diff $(STACK) --base $(BASE) $(if $(OUT),--out $(OUT)) $(if $(JSON),--json $(JSON)) $(if $(CAPACITY),--capacity $(CAPACITY)) $(if $(OUTPUTS),--outputs $(OUTPUTS))

# Engine environments (several GB) live in ENGINE_CACHE, default .cache/engines (git-ignored).
# See docs/engines-conformance.md for when to run these and how long they take.
conformance: $(STAMP)
	$(BIN)/python -m conformance.run $(foreach o,$(ONLY),--only $(o))

e2e: $(STAMP)
	$(BIN)/python -m conformance.e2e

# The real Pulumi CLI, built from the Go modules lifecycle/pulumi-cli pins (docs/lifecycle.md). Seconds
# when it is already built; fails with one line when Go or the module proxy is missing.
pulumi-cli:
	@$(PYTHON) lifecycle/build_cli.py

# Every scenario a user goes through (first up, updates, region moves, refresh, protect, import, the
# policy pack, the deploy workflow, destroy, and every fault a run must survive), under the real
# engine with the stand-in alicloud provider and the fake EAS. Never skipped: without the CLI it
# fails. Two scenarios at a time (each has its own workspace, state and fake EAS; most of a run is
# waiting on processes): 6.4 -> 4.2 min on 2 cores; the slowest are listed at the end.
lifecycle: $(STAMP) pulumi-cli
	ALIBABA_CLOUD_ECS_METADATA_DISABLED=true $(BIN)/python -m pytest -n 2 --dist load --durations=10 lifecycle
