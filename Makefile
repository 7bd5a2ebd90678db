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

.PHONY: run test lint venv serve-prod

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

# Production-shaped serving: the Procfile's web (gunicorn) and worker (qcluster) processes
# under honcho, on PostgreSQL (DATABASE_URL) and Redis (REDIS_URL). Counts from the
# environment: WEB_CONCURRENCY x WEB_THREADS web, WORKER_COUNT clusters of Q_WORKERS each.
# Needs the production settings in the environment or .env (README "Scaling out").
WORKER_COUNT ?= 2
serve-prod: $(INSTALLED)
	$(PY) bin/check-postgres
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py seed_rules
	# -e /dev/null: settings read .env themselves; the environment given here wins over it.
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" Q_BROKER="$${Q_BROKER:-redis}" \
		$(VENV)/bin/honcho start -e /dev/null -f Procfile -c worker=$(WORKER_COUNT)

test: $(INSTALLED)
	$(PY) bin/check-postgres
	$(VENV)/bin/pytest -n 2 $(PYTEST_ARGS)

# Migrations must match the models; an in-memory database keeps the check off any real one.
lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	DJANGO_DEBUG=1 DATABASE_URL=sqlite://:memory: $(PY) manage.py makemigrations --check --dry-run
