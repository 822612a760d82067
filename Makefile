# Two commands do all the set-up on a fresh machine:
#   make demo   installs what is needed and answers the bundled example requests
#   make test   installs what is needed and runs the tests (.ci/run calls exactly this)
# System libraries (WeasyPrint's Pango, poppler's pdftotext, fonts) come from Debian:
#   make system-deps   (as root) installs them; every target checks them and says what is missing.

VENV    ?= .venv
PYTHON  ?= python3
BIN      = $(VENV)/bin
STAMP    = $(VENV)/.installed-stamp
# Fonts for names in a Norwegian register: DejaVu (Latin with Sámi, Greek, Cyrillic), Noto core
# (Arabic, Hebrew, Ethiopic, Indic, Thai, Georgian, Armenian, ...: 42 MB), Droid Sans Fallback
# (Chinese, Japanese: 7 MB), Nanum (Korean: 33 MB); fonts-noto-cjk would be 91 MB on its own.
APT_PACKAGES = libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils fontconfig \
               fonts-dejavu-core fonts-noto-core fonts-droid-fallback fonts-nanum

.PHONY: demo test test-fast system-deps check-system clean

demo: $(STAMP) check-system
	$(BIN)/innsyn demo

test: $(STAMP) check-system
	$(BIN)/pytest

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

check-system: $(STAMP)
	$(BIN)/python -m innsyn.system_check

system-deps:
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $(APT_PACKAGES)

clean:
	rm -rf $(VENV) data out
