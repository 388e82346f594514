# Sanshe — `make run` to try it, `make test` to check it. Both work on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
export SANSHE_DATABASE_URL ?= sqlite:///$(CURDIR)/var/sanshe.db

.PHONY: run test install assets browser-deps document-deps bench schema translations clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP) assets

# Front-end assets (bpmn-js, htmx) from npm, served locally by the web UI.
assets: webui/static/vendor/.installed

webui/static/vendor/.installed: package.json
	npm install --no-audit --no-fund --silent
	$(PY) -m webui.assets
	touch $@

# Debian's Chromium for the browser tests (Playwright's own browser download does not work here).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

# Fonts and libraries WeasyPrint needs for the PDFs (CJK text in Noto from Debian), installed when missing.
DOCUMENT_PACKAGES := fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
document-deps:
	@missing=$$(for p in $(DOCUMENT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

# Development: secrets are generated on first use into var/ (mode 0600); production sets its own.
# `make run PORT=8080` serves on another port.
PORT ?= 5000
run: install document-deps
	$(PY) -m cli init
	$(PY) -m cli deploy processes
	$(PY) -m cli demo --if-empty --accounts admin
	@echo "Open http://127.0.0.1:$(PORT)"
	SANSHE_ENV=development $(PY) -m cli serve --port $(PORT)

# Lint (ruff) and type check (pyright; settings in pyproject.toml) before the tests.
test: install browser-deps document-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pyright
	$(VENV)/bin/pytest -q -p no:cacheprovider

bench: install
	$(PY) -m cli bench engine --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
	$(PY) -m cli bench workers
	$(PY) -m cli bench inbox
	$(PY) -m cli bench mining

# The engine's messages are English; those its errors carry are shown translated too.
BABEL_KEYWORDS = -k lazy_gettext -k N_ -k Text -k NotFoundError -k ForbiddenError -k ConflictError -k ValidationError \
	-k BusinessRuleError -k SansheError
# Refresh the message catalogs after changing UI strings (then translate the new zh entries).
translations: $(STAMP)
	$(VENV)/bin/pybabel extract -F webui/babel.cfg $(BABEL_KEYWORDS) -o webui/translations/messages.pot .
	$(VENV)/bin/pybabel update -i webui/translations/messages.pot -d webui/translations --no-fuzzy-matching
	$(VENV)/bin/pybabel compile -d webui/translations

# Regenerate the initial migration after changing tables (before the first release only).
schema: $(STAMP)
	$(PY) -m engine.core.schema_tool

clean:
	rm -rf $(VENV) var node_modules webui/static/vendor
