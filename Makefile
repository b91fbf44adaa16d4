# Two commands on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi
# wsgi.py runs the production config unless told otherwise; `make` is for development machines.
export PORCHLIGHT_ENV ?= development
# Translation catalogs (.po, kept in git) and their compiled form (.mo, built here, never committed).
PO_FILES := $(wildcard app/translations/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)

.PHONY: run test test-sqlite test-postgres lint install install-dev db clean compile-translations compress-static translations

# `make run PORT=8080` serves on another port (links in mail follow it).
PORT ?= 5000
run: install db
	PUBLIC_PORT=$(PORT) $(BIN)/flask run --host 127.0.0.1 --port $(PORT)

# Both legs at once (scripts/test-both): about half the wall time on two cores.
test: install-dev db lint
	BIN=$(BIN) scripts/test-both

install: $(VENV)/.installed compile-translations compress-static
install-dev: $(VENV)/.installed-dev compile-translations compress-static

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Compile the catalogs whenever a .po is newer than its .mo (both `make run` and `make test` do this).
compile-translations: $(MO_FILES)

$(MO_FILES): %.mo: %.po $(VENV)/.installed
	$(BIN)/pybabel compile -d app/translations

# Brotli and gzip copies of app/static for WhiteNoise (never committed). Only copies whose file
# changed are rewritten, so this runs on every `make run` and `make test` in well under a second.
compress-static: $(VENV)/.installed
	$(BIN)/python -m app.web.assets app/static

# For developers after changing text: re-extract every marked string and merge it into each
# catalog. New or changed strings then need a translation (tests/test_i18n.py checks every one).
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ --add-comments=Translators: \
		--project=Porchlight --copyright-holder="Porchlight contributors" \
		-o app/translations/messages.pot .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --ignore-obsolete

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
	rm -rf $(VENV) instance $(MO_FILES)
	find app/static \( -name '*.br' -o -name '*.gz' \) -delete
