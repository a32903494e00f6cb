.PHONY: setup serve test lint

setup:
	@bash scripts/setup.sh

serve: setup
	.venv/bin/voxlive serve

test: setup
	HF_HUB_OFFLINE=1 .venv/bin/pytest -q

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy
