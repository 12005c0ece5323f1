# The two commands of the README. Each sets up .venv on first use (see scripts/setup.sh).
PY := .venv/bin/python
PRESET ?= tiny

.PHONY: speedrun test setup setup-dev bench clean

speedrun: .venv/.ok
	.venv/bin/dentro speedrun --preset $(PRESET)

test: .venv/.ok-dev
	$(PY) -m pytest -q tests

setup: .venv/.ok
setup-dev: .venv/.ok-dev

.venv/.ok: pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $@

.venv/.ok-dev: pyproject.toml scripts/setup.sh
	bash scripts/setup.sh dev
	touch $@ .venv/.ok

clean:
	rm -rf .venv .pytest_cache
