# airflow-provider-onlinesim — the two commands a user needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
AIRFLOW_VERSION ?= 3.3.2
AIRFLOW2_VERSION ?= 2.11.2
VENV ?= .venv
VENV2 ?= .venv-airflow2
CONSTRAINTS := constraints/constraints-$(AIRFLOW_VERSION).txt
CONSTRAINTS2 := constraints/constraints-$(AIRFLOW2_VERSION).txt
#: The Airflow releases between those two: each gets a smoke run (`make smoke`), the newest patch of each.
SMOKE_VERSIONS := 3.0.6 3.1.8 3.2.2
PIP_FLAGS ?= --quiet --disable-pip-version-check
export PYTHONDONTWRITEBYTECODE := 1
#: The fast unit layer: every test that carries none of the slow layers' markers (see pyproject.toml).
FAST := not airflow and not chaos and not deployment and not benchmark and not reliability and not packaging
#: Both Airflow versions' runs (and the children they start) write their coverage data here.
COVERAGE := COVERAGE_FILE=$(CURDIR)/.coverage

.PHONY: help install install-airflow2 lint typecheck check dist docs unit test test-airflow2 static test-deployment coverage smoke constraints demo demo-monitor bench bench-deployment sandbox clean

help:  ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(VENV)/bin/pip install $(PIP_FLAGS) -c $(CONSTRAINTS) "apache-airflow==$(AIRFLOW_VERSION)" -e ".[dev,deployment,docs,scale]"
	touch $@

$(VENV2)/.installed: pyproject.toml $(CONSTRAINTS2)
	test -x $(VENV2)/bin/python || $(PYTHON) -m venv $(VENV2)
	$(VENV2)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(VENV2)/bin/pip install $(PIP_FLAGS) -c $(CONSTRAINTS2) "apache-airflow==$(AIRFLOW2_VERSION)" -e ".[dev]"
	touch $@

install: $(VENV)/.installed  ## create .venv with Airflow $(AIRFLOW_VERSION) and the provider (editable)

install-airflow2: $(VENV2)/.installed  ## create .venv-airflow2 with Airflow $(AIRFLOW2_VERSION)

lint: install  ## ruff on everything, and the import-linter contracts (one-way layers)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: install  ## mypy --strict on the package
	$(VENV)/bin/mypy --strict onlinesim_provider

# --dist loadscope keeps a module on one worker, so a module's costly fixture is built once.
check: install  ## the loop while working: lint, types and the fast unit layer on both cores (< 60 s)
	$(MAKE) --no-print-directory lint typecheck
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadscope -m "$(FAST)"

dist: install  ## build the sdist and the wheel into dist/ and check them with twine
	rm -rf dist
	$(VENV)/bin/python -m build --outdir dist .
	$(VENV)/bin/twine check --strict dist/*

docs: install  ## the Sphinx site in docs/_build/html (warnings are errors)
	rm -rf docs/_build docs/_api
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html

# The slow layers spend much of their time waiting (on the sandbox's clock, on child processes, on
# Airflow's own loops), so each suite runs on pytest-xdist workers that fill the other's pauses.
WORKERS ?= 2
XDIST := -n $(WORKERS) --dist loadscope

unit: install  ## pytest on Airflow $(AIRFLOW_VERSION): every layer but the deployment, with coverage
	$(COVERAGE) $(VENV)/bin/coverage run -m pytest $(XDIST) -m "not deployment" --durations=15

# Airflow $(AIRFLOW2_VERSION) runs what differs between Airflow versions (the `seam` tests, listed in
# tests/conftest.py): everything else takes the same path as on $(AIRFLOW_VERSION).
AIRFLOW2_ONLY := seam and not deployment and not benchmark and not packaging
test-airflow2: install-airflow2  ## pytest on Airflow $(AIRFLOW2_VERSION): what differs between Airflow versions, with coverage
	$(COVERAGE) $(VENV2)/bin/coverage run -m pytest $(XDIST) -m "$(AIRFLOW2_ONLY)" --durations=15

coverage: install  ## branch coverage of onlinesim_provider/, both Airflow versions' runs combined (a report only)
	$(COVERAGE) $(VENV)/bin/coverage combine --quiet
	$(COVERAGE) $(VENV)/bin/coverage report

test-deployment: install  ## the provider in a real deployment: PostgreSQL, scheduler, triggerer, api-server, Chromium
	bash deploy/install-system-packages.sh
	$(VENV)/bin/python -m pytest tests/deployment -m deployment --durations=5

# The wheel the smoke runs install, built from a copy of the sources: `make dist` may be building
# beside it, and the two must not share build/ or *.egg-info.
SMOKE_WHEEL := .smoke/wheel/.built
$(SMOKE_WHEEL): $(VENV)/.installed pyproject.toml README.md $(shell find onlinesim_provider airflow_provider_onlinesim example_dags -name '*.py')
	rm -rf .smoke/source .smoke/wheel
	mkdir -p .smoke/source
	tar -cf - --exclude=__pycache__ pyproject.toml README.md LICENSE onlinesim_provider airflow_provider_onlinesim example_dags | tar -xf - -C .smoke/source
	$(VENV)/bin/python -m build --wheel --no-isolation --outdir .smoke/wheel .smoke/source > .smoke/build.log || { cat .smoke/build.log; exit 1; }
	touch $@

# A user's install: Airflow and the wheel, pinned by that version's constraints. Byte-compiling
# every module at install would cost more than the one run compiles of what it imports.
.venv-airflow-%/.installed: constraints/constraints-%.txt $(SMOKE_WHEEL)
	test -x .venv-airflow-$*/bin/python || $(PYTHON) -m venv .venv-airflow-$*
	.venv-airflow-$*/bin/pip uninstall $(PIP_FLAGS) --quiet --yes airflow-provider-onlinesim
	.venv-airflow-$*/bin/pip install $(PIP_FLAGS) --no-compile -c $< "apache-airflow==$*" .smoke/wheel/*.whl
	touch $@

smoke-%: .venv-airflow-%/.installed
	.venv-airflow-$*/bin/python tests/dags/smoke.py

smoke: $(addprefix smoke-,$(SMOKE_VERSIONS))  ## Airflow $(SMOKE_VERSIONS): each example DAG that applies and the connection test, from the wheel

# What `make constraints` installs beside Airflow and the wheel: the extras the suites use, and the
# pins without which that Airflow fails (newer releases of its dependencies that it breaks on).
EXTRAS_$(AIRFLOW_VERSION) := [dev,deployment,docs,scale]
EXTRAS_$(AIRFLOW2_VERSION) := [dev]
PINS_3.0.6 := "fastapi[standard]==0.117.1" starlette==0.48.0 cadwyn==5.4.6 cryptography==50.0.2
PINS_3.1.8 := cryptography==50.0.2
PINS_3.2.2 := fastapi==0.136.3 cadwyn==7.0.0 svcs==25.1.0
PYTHON_MINOR = $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
constraints: $(SMOKE_WHEEL)  ## VERSION=x.y.z: write constraints/constraints-x.y.z.txt, the pip freeze of a fresh virtualenv
	test -n "$(VERSION)" || { echo "usage: make constraints VERSION=<Airflow version>"; exit 2; }
	rm -rf .smoke/freeze-$(VERSION) && $(PYTHON) -m venv .smoke/freeze-$(VERSION)
	.smoke/freeze-$(VERSION)/bin/pip install $(PIP_FLAGS) "apache-airflow==$(VERSION)" "$$(echo .smoke/wheel/*.whl)$(EXTRAS_$(VERSION))" $(PINS_$(VERSION))
	{ echo "# Pinned install set for Airflow $(VERSION) on Python $(PYTHON_MINOR): pip freeze of a fresh virtualenv (make constraints VERSION=$(VERSION))."; \
	  .smoke/freeze-$(VERSION)/bin/pip freeze --exclude airflow-provider-onlinesim; } > constraints/constraints-$(VERSION).txt
	rm -rf .smoke/freeze-$(VERSION)

# Each part's output is printed whole when it ends (--output-sync), so the log reads part by part.
test:  ## everything CI checks: the static checks, both suites, the smoke runs and the deployment test, side by side
	$(MAKE) --no-print-directory -j2 --output-sync=target install install-airflow2
	rm -f .coverage .coverage.*
	$(MAKE) --no-print-directory -j6 --output-sync=target unit test-airflow2 test-deployment static smoke
	$(MAKE) --no-print-directory coverage

static:  ## lint, types, the built packages and the docs, one after another
	$(MAKE) --no-print-directory -j1 lint typecheck dist docs

demo: install  ## the main job on the sandbox
	$(VENV)/bin/python scripts/demo.py

demo-monitor: install  ## the delivery monitor on the sandbox: two scheduled runs, the second catches a silent country
	$(VENV)/bin/python scripts/demo_monitor.py

$(VENV)/.bench-installed: $(VENV)/.installed $(CONSTRAINTS)
	$(VENV)/bin/pip install $(PIP_FLAGS) -c $(CONSTRAINTS) apache-airflow-providers-http pyinstrument
	touch $@

bench: $(VENV)/.bench-installed  ## benchmarks against the HTTP provider and plain requests (one table)
	$(VENV)/bin/python -m benchmarks $(BENCH_ARGS)

sandbox: install  ## run the sandbox in the foreground (Ctrl-C to stop)
	$(VENV)/bin/onlinesim-sandbox

clean:  ## remove the virtualenvs and caches
	rm -rf $(VENV) $(VENV2) .venv-airflow-* .smoke .mypy_cache .ruff_cache build dist docs/_build *.egg-info .coverage .coverage.*

# WAITS=1000 runs more waits than one triggerer carries: reported, without targets.
bench-deployment: install  ## the distributed deployment: triggerer failover and many waits in a real triggerer (one table, < 15 min)
	bash deploy/install-system-packages.sh
	$(VENV)/bin/python -m deploy.bench $(if $(WAITS),--n-waits $(WAITS)) $(BENCH_DEPLOYMENT_ARGS)
