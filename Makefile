# Two commands do all the set-up on a fresh machine:
#   make demo   installs what is needed and answers the bundled example requests
#   make test   installs what is needed and runs the tests (.ci/run calls exactly this)
# System libraries (WeasyPrint's Pango, poppler's pdftotext, fonts) come from Debian: run as
# root, both install the ones missing themselves (`make system-deps` installs them all); run
# as another user, they check them and say what to install.

# bash with pipefail: pip's output goes through a filter, and pip's own exit status must count
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c

# Some machines' pip configuration names package folders that do not exist; pip says so
# once per package and folder. Those lines go; any other warning is shown.
# setuptools' note that an editable install prefers a same-named folder in the working directory
# (ten lines, every install) goes too: flows/ is mapped to `innsyn` and nothing else is named so.
PIP_NOISE = sed -u -e '/is ignored: it is neither a file nor a directory/d' \
                   -e '/BuildBackendWarning: Editable installation/,/with strategy, WheelFile/d'

VENV    ?= .venv
PYTHON  ?= python3
BIN      = $(VENV)/bin
STAMP    = $(VENV)/.installed-stamp
# Fonts for names in a Norwegian register: DejaVu (Latin with Sámi, Greek, Cyrillic), Noto core
# (Arabic, Hebrew, Ethiopic, Indic, Thai, Georgian, Armenian, ...: 42 MB), Droid Sans Fallback
# (Chinese, Japanese: 7 MB), Nanum (Korean: 33 MB); fonts-noto-cjk would be 91 MB on its own.
# chromium and chromium-driver: the case desk's browser test drives a real headless Chromium.
# Postgres: the work-pool test runs a Prefect server on it, as README's "When one machine is not
# enough" does (the test skips, saying so, where it cannot start one).
APT_PACKAGES = libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils fontconfig \
               fonts-dejavu-core fonts-noto-core fonts-droid-fallback fonts-nanum chromium chromium-driver \
               postgresql

.PHONY: demo test test-fast system-deps missing-system-deps check-system clean

# In a terminal, `make demo` then starts the case desk on the demo data (DESK=0: it does not);
# run from a script (no terminal), it says how to start it instead of waiting for Ctrl-C.
DESK ?= 1
DESK_HINT = the case desk on the demo data: http://127.0.0.1:8765/ \
            (sign in as saksbehandler, jurist, jurist2 or admin; password demo-passord-2026)

demo: missing-system-deps $(STAMP) check-system
	$(BIN)/innsyn demo
	@if [ "$(DESK)" != 0 ] && [ -t 0 ] && [ -t 1 ]; then \
	  echo "Starting $(DESK_HINT). Ctrl-C stops it."; \
	  $(BIN)/innsyn desk || true; \
	else \
	  echo "To open $(DESK_HINT): $(BIN)/innsyn desk"; \
	fi

# Two test processes (pytest-xdist), a module each at a time: most tests wait on a subprocess,
# a Prefect server or the disk part of the time, so two share two cores well. TEST_WORKERS=0
# runs them in one process.
TEST_WORKERS ?= 2

test: missing-system-deps $(STAMP) check-system
	$(BIN)/pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 2>&1 | $(PIP_NOISE)
	$(BIN)/python -m pip install --quiet -e '.[test]' 2>&1 | $(PIP_NOISE)
	@# pip compiles the packages it installs, not this editable one; where PYTHONDONTWRITEBYTECODE
	@# is set (CI), every `innsyn` command would compile the package again (0.1 CPU s a command)
	$(BIN)/python -m compileall -q flows
	@# a new PREFECT_HOME then starts from a copy instead of migrating (5 CPU s a new home)
	$(BIN)/python -m innsyn.service.prefect_server --keep-migrated-empty-database
	touch $(STAMP)

check-system: $(STAMP)
	$(BIN)/python -m innsyn.system_check

system-deps:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null

# As root: install whichever of APT_PACKAGES is missing (nothing, quickly, when none is).
missing-system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian packages:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

clean:
	rm -rf $(VENV) data out
