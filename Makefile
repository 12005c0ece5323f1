# The two commands of the README. Each sets up .venv on first use (see scripts/setup.sh).
PY := .venv/bin/python
PRESET ?= tiny

.PHONY: speedrun test interop interop-lmeval setup setup-dev bench clean

speedrun: .venv/.ok
	.venv/bin/dentro speedrun --preset $(PRESET)

test: .venv/.ok-dev
	$(PY) -m pytest -q tests

# The exports checked in llama.cpp itself (tests/test_export_gguf.py), not skipped: llama-cpp-python
# builds llama.cpp from source with CMake (4 to 20 minutes on 2 cores), so its wheel is built once
# into $(WHEELS) and installed from there afterwards. The build is portable (AVX2, not -march=native):
# a native build on a CPU with AMX tiles (Xeon Sapphire Rapids) crashed in llama_decode on the first
# logits test, the AVX2 one passes; and a cached wheel must not carry one machine's instructions to
# another.
LLAMA_CPP_PYTHON := 0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
WHEELS ?= $(HOME)/.cache/dentro/wheels/avx2
interop: .venv/.ok-dev
	@if ! ls $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_PYTHON)-*.whl >/dev/null 2>&1; then \
		echo "building llama-cpp-python $(LLAMA_CPP_PYTHON) once into $(WHEELS) (CMake + a C++ compiler; 4-20 min)"; \
		mkdir -p $(WHEELS) && CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip wheel -q --no-cache-dir \
			llama-cpp-python==$(LLAMA_CPP_PYTHON) --no-deps -w $(WHEELS); \
	fi
	$(PY) -m pip install -q $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_PYTHON)-*.whl
	DENTRO_REQUIRE_LLAMA=1 $(PY) -m pytest -q tests/test_export_gguf.py

# lm-evaluation-harness on an HF export gives `dentro eval`'s accuracy on the same local ARC and
# HellaSwag items (tests/test_lmeval_interop.py, about 20 s); not skipped here.
interop-lmeval: .venv/.ok-lmeval
	DENTRO_REQUIRE_LMEVAL=1 $(PY) -m pytest -q tests/test_lmeval_interop.py

setup: .venv/.ok
setup-dev: .venv/.ok-dev

.venv/.ok: pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $@

.venv/.ok-dev: pyproject.toml scripts/setup.sh
	bash scripts/setup.sh dev
	touch $@ .venv/.ok

.venv/.ok-lmeval: pyproject.toml scripts/setup.sh
	bash scripts/setup.sh dev,lmeval
	touch $@ .venv/.ok-dev .venv/.ok

clean:
	rm -rf .venv .pytest_cache
