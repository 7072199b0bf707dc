# Two commands do all set-up on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
# Tesseract and its Vietnamese model read photographed and scanned essays (make run installs them too).
OCR_PACKAGES := tesseract-ocr tesseract-ocr-vie
DEB_PACKAGES := chromium libreoffice-writer-nogui antiword fonts-dejavu-core $(OCR_PACKAGES)
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)

.PHONY: run test test-postgres install system-deps ocr-deps serve audit bench lock clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install ocr-deps
	$(BIN)/flask --app lms db upgrade
	$(BIN)/flask --app lms demo --if-empty
	$(BIN)/flask --app lms run --host $(HOST) --port $(PORT)

# Debian packages the tests use for real: Chromium (browser tests), LibreOffice and antiword (.doc/.pdf).
system-deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Without root or sudo the app still runs and says on the upload page that photos cannot be read yet.
ocr-deps:
	@missing=""; \
	for p in $(OCR_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  ($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing) \
	  || echo "Could not install$$missing: photographed/scanned essays will be refused until they are installed"; \
	fi

test: install system-deps
	$(BIN)/python -m pytest

# The same suite against PostgreSQL (Debian's package, started on loopback by .ci/start-postgres).
test-postgres: install system-deps
	TEST_DATABASE_URL=$$(.ci/start-postgres | tail -n 1) $(BIN)/python -m pytest

# Production: gunicorn (3 workers × 4 threads) + the one worker process (indexing, jobs). Set DATABASE_URL for PostgreSQL.
serve: install
	$(BIN)/flask --app lms db upgrade
	$(BIN)/python -m lms.serve

# Known vulnerabilities in the pinned dependencies (pip-audit asks PyPI's vulnerability data).
audit: install
	@out=$$($(BIN)/pip-audit --progress-spinner off 2>&1); status=$$?; echo "$$out"; \
	skipped=$$(echo "$$out" | grep -c "could not be audited"); \
	if [ $$status -ne 0 ]; then exit $$status; fi; \
	if [ $$skipped -gt 0 ]; then echo "pip-audit: $$skipped installed packages could not be audited (vulnerability service unreachable from here)"; fi

bench: install
	$(BIN)/python bench/roster_import.py

# Regenerate the exact pins from a fresh environment (developers).
lock:
	rm -rf /tmp/thuhoach-lock && $(PYTHON) -m venv /tmp/thuhoach-lock
	/tmp/thuhoach-lock/bin/pip install --quiet -r requirements.in
	/tmp/thuhoach-lock/bin/pip freeze --exclude-editable | grep -v '^thuhoach' > constraints.txt

clean:
	rm -rf $(VENV)
