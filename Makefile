# Two commands for everyone: `make lab` (learners) and `make test` (everything is checked).
# Both create the local virtual environment .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: lab lab-instructor test test-browser venv release build bench voila clean-grading help

help:
	@echo "make lab      set up (if needed) and open the course in JupyterLab, on its start page"
	@echo "make lab-instructor  the same with nbgrader's instructor side (Create Assignment, Formgrader)"
	@echo "make test     set up (if needed) and run every test (browser tests included)"
	@echo "make test-browser  only the real-browser tests"
	@echo "make release  rebuild instructor notebooks and regenerate the student notebooks (nbgrader)"
	@echo "make bench    print the time and speed budgets"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required, found " + sys.version.split()[0])'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch is pinned to the CPU build; installing it first keeps pip from choosing a CUDA build.
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[test]"
	$(PY) -m jupyter labextension list 2>&1 | grep -q nbgrader || (echo "nbgrader lab extension missing" && false)
	touch $(STAMP)

venv: $(STAMP)

# Learners: JupyterLab on course/, opening the start page (course/START.md, rendered), with only the
# learner side of nbgrader (Validate, the Assignments list) and no news pop-up: the settings in
# share/jupyter/lab-learner (overrides.json, page_config.json) and share/jupyter/learner-config
# (nbgrader's formgrader and course-list server extensions off). PROGRESS.md is written first.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
lab: $(STAMP)
	$(PY) -m coursekit.progress course
	JUPYTER_CONFIG_PATH="$(CURDIR)/share/jupyter/learner-config" $(VENV)/bin/jupyter lab --ServerApp.root_dir=course \
		--LabApp.app_settings_dir="$(CURDIR)/share/jupyter/lab-learner" --LabApp.default_url=/lab/tree/START.md $(ALLOW_ROOT)

# Instructors: the same course with nbgrader's instructor side (Create Assignment, Formgrader), run in
# the nbgrader course root var/course (formgrader reads the nbgrader_config.py that autograder.course.Course
# writes there; the instructor notebooks come from autograder/source).
lab-instructor: $(STAMP)
	$(PY) -c "from autograder.course import Course; Course()"
	cd var/course && $(CURDIR)/$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)/var/course" \
		--LabApp.app_settings_dir="$(CURDIR)/share/jupyter/lab-instructor" $(ALLOW_ROOT)

# Every test, the real-browser suite (tests/browser, docs/BROWSER_TESTS.md) included, in two steps:
# first the fast tests on two xdist workers (they start no servers; tests/conftest.py keeps a module's
# shared fixture on one worker); then three pytest sessions at once: the slow grading tests one at a
# time (each grades with two nbgrader processes of its own), and the browser suite with
# tests/test_notebooks.py (a notebook the browser's Run All executes is not executed twice;
# tests/conftest.py) as two shards. The browser shards wait on pages and kernels much of the time;
# the grading tests fill that CPU (an idle 2-core machine, before jsonschema was pinned: 20.5 min
# for the three at once, against 8.3 + 14.0 min one after the other; with the pin, 16.6-16.8 min). Every run and shard runs; the first failure's exit status is
# kept (5, "no tests selected" under PYTEST_ARGS=-k..., is not a failure).
RUN_PYTEST = { $(PY) -m pytest $(1) $(PYTEST_ARGS) || { rc=$$?; [ $$rc -eq 5 ] || [ $$status -ne 0 ] || status=$$rc; }; }
# The browser phase as two shards at once (tests/browser_shards.py), each with its own JupyterLab and
# Chromium, and $(2) (another pytest run, or nothing) beside them: everything but shard 1 runs in the
# background, its output kept in a file and printed when it ends.
# RUN_BESIDE starts pytest $(1) in the background; $(2) names it in the log's heading.
RUN_BESIDE = { log=$$(mktemp); echo "======================== $(2) ($$log) ========================" >$$log; \
	$(PY) -m pytest $(1) $(PYTEST_ARGS) >>$$log 2>&1 & pid=$$!; logs="$$logs $$log"; pids="$$pids $$pid"; }
RUN_SHARDS = { logs=""; pids=""; \
	$(if $(2),$(call RUN_BESIDE,$(2),slow grading tests (run beside the browser shards));) \
	$(call RUN_BESIDE,$(1) --browser-shard 2/2,browser shard 2/2); \
	$(call RUN_PYTEST,$(1) --browser-shard 1/2); \
	for pid in $$pids; do wait $$pid || { rc=$$?; [ $$rc -eq 5 ] || [ $$status -ne 0 ] || status=$$rc; }; done; \
	for log in $$logs; do cat $$log; rm -f $$log; done; }
test: $(STAMP)
	bash scripts/ensure-system-deps.sh
	@status=0; \
	$(call RUN_PYTEST,-n 2 --dist loadgroup -m "not slow and not browser"); \
	$(call RUN_SHARDS,tests/browser tests/test_notebooks.py,-m "slow and not browser" --ignore=tests/test_notebooks.py); \
	exit $$status

# Only the real-browser suite (JupyterLab, Voila and nbgrader's Validate in Chromium).

test-browser: $(STAMP)
	bash scripts/ensure-system-deps.sh
	@status=0; $(call RUN_SHARDS,tests/browser); exit $$status

build: $(STAMP)
	$(PY) -m autograder build

release: $(STAMP)
	$(PY) -m autograder release

bench: $(STAMP)
	$(PY) -m bench

# The explorer notebooks as code-free dashboards (Voilà). The template and the lab extensions it
# loads come from share/jupyter (see share/jupyter/voila-config/voila.json). VOILA_ARGS="--port=8867"
voila: $(STAMP)
	JUPYTER_PATH="$(CURDIR)/share/jupyter" JUPYTER_CONFIG_PATH="$(CURDIR)/share/jupyter/voila-config" \
		$(VENV)/bin/voila course/explorers $(VOILA_ARGS)

clean-grading:
	rm -rf var/course
