# Two commands on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi

.PHONY: run test test-sqlite test-postgres lint install install-dev db clean

run: install db
	$(BIN)/flask run --host 127.0.0.1 --port 5000

test: install-dev db lint test-sqlite test-postgres

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Upgrade the database to the newest migration; load the demo when it is empty.
db: install
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo --if-empty

lint: install-dev
	$(BIN)/ruff check .

test-sqlite: install-dev
	$(BIN)/pytest

# The same suite on PostgreSQL (browser tests run once, in the SQLite leg).
test-postgres: install-dev
	BIN=$(BIN) scripts/test-postgres

clean:
	rm -rf $(VENV) instance
