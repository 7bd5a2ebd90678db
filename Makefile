# Developer entry points. `make run` serves the portal on SQLite with sandbox providers;
# `make test` runs the whole suite on PostgreSQL. See README.md.

PYTHON_VERSION := python3.11
VENV := .venv
PY := $(VENV)/bin/python
# Requirements are installed again only when requirements.txt is newer than this stamp.
INSTALLED := $(VENV)/.requirements-installed
PORT ?= 8000
# Extra pytest arguments, e.g. make test PYTEST_ARGS="tests/leads -x"
PYTEST_ARGS ?=

.PHONY: run test lint venv

venv: $(INSTALLED)

$(PY):
	$(PYTHON_VERSION) -m venv $(VENV)

$(INSTALLED): requirements.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -r requirements.txt
	touch $@

# Created once; never overwritten, even when .env.example changes.
.env:
	cp .env.example .env
	@echo "Created .env from .env.example (development settings)."

run: $(INSTALLED) .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_rules
	$(PY) manage.py seed_demo
	@echo
	@echo "Portal: http://127.0.0.1:$(PORT)/  (admin: http://127.0.0.1:$(PORT)/admin/)"
	@echo "Demo logins (merchant, ae, ic, compliance, ops): printed above by manage.py seed_demo."
	@echo
	PORT=$(PORT) bin/serve

test: $(INSTALLED)
	$(PY) bin/check-postgres
	$(VENV)/bin/pytest -n 2 $(PYTEST_ARGS)

# Migrations must match the models; an in-memory database keeps the check off any real one.
lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	DJANGO_DEBUG=1 DATABASE_URL=sqlite://:memory: $(PY) manage.py makemigrations --check --dry-run
