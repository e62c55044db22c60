# Every target sets itself up from nothing: it creates .venv and installs the pinned
# requirements the first time (and again whenever requirements.txt or pyproject.toml change).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help setup book test site-test lab-test lab execute bench student publish clean

help:
	@echo "make book       build the website into _build/html (warnings are errors)"
	@echo "make test       lib unit, property and doc tests; nbval on every chapter notebook"
	@echo "make site-test  browser test of the built website (run make book first)"
	@echo "make lab-test   every explorer, live in a real JupyterLab, moved control by control"
	@echo "make lab        open the chapters in JupyterLab, as the website reads (reader/)"
	@echo "make execute    re-run every notebook (chapters, instructors) so outputs are current"
	@echo "make bench      widget, roofline and simulator speed, the estimate's error, in _build/bench.json"
	@echo "make student    the reader edition without solutions, in student/"
	@echo "make publish    push _build/html to the gh-pages branch (run make book first)"

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

setup: $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --all --warningiserror --nitpick --keep-going
	@echo "The book is at $(CURDIR)/_build/html/index.html"

test: $(STAMP)
	$(BIN)/python -m pytest

# The browser test of every built page (tests/site). Environment: SITE_DIR (default
# _build/html), SITE_CONFIG (the _config.yml it was built with), CHROMIUM (default
# /usr/bin/chromium), SITE_SCREENSHOTS (a folder for light and dark screenshots).
site-test: $(STAMP)
	@test -f "$${SITE_DIR:-_build/html}/index.html" || { echo "No built site: run 'make book' first."; exit 2; }
	@test -x "$${CHROMIUM:-/usr/bin/chromium}" || $(MAKE) chromium
	$(BIN)/python -m pytest tests/site -p no:randomly -p no:cacheprovider -o addopts="" -q

# Every explorer live in a real JupyterLab on 127.0.0.1, each control moved once (tests/lab).
lab-test: $(STAMP)
	@test -x "$${CHROMIUM:-/usr/bin/chromium}" || $(MAKE) chromium
	$(BIN)/python -m pytest tests/lab -p no:randomly -p no:cacheprovider -o addopts="" -q

# Debian's Chromium, driven by the playwright package (no browser download).
chromium:
	@if [ "$$(id -u)" = "0" ]; then \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	else echo "Install Chromium first, e.g. 'sudo apt-get install chromium', or set CHROMIUM=/path/to/chromium"; exit 2; fi

# The reader edition (scripts/reader_edition.py): the chapters' MyST written as JupyterLab
# renders it, numbers and all. A notebook you changed in reader/ is kept, never overwritten.
# To edit the book itself, open chapters/ (jupyter lab chapters/), where MyST is source.
lab: $(STAMP)
	$(BIN)/python scripts/reader_edition.py . reader
	$(BIN)/jupyter lab --ServerApp.root_dir=reader

execute: $(STAMP)
	$(BIN)/python scripts/execute_notebooks.py chapters/*.ipynb instructors/*.ipynb

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

# Notebooks without solutions for students (see README, "Student edition").
student: $(STAMP)
	rm -rf student
	$(BIN)/python scripts/student_edition.py . student

# Publish by hand (GitHub Pages "Deploy from a branch": gh-pages), the Jupyter Book 1
# convention; the workflow in .github/workflows/publish.yml does the same from CI.
publish: $(STAMP)
	@test -f _build/html/index.html || { echo "No built site: run 'make book' first."; exit 2; }
	$(BIN)/ghp-import --no-jekyll --push --force \
	  --message "Publish the book, version $$($(BIN)/python -c 'import lib; print(lib.__version__)')" \
	  _build/html

clean:
	rm -rf _build student .pytest_cache
