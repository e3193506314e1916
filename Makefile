# mmseam — two commands do everything on a fresh machine:
#   make demo   # install + the whole pipeline on the bundled synthetic data set
#   make test   # install + the test suite
PYTHON ?= python
PIP := $(PYTHON) -m pip
STAMP := .install.stamp
DEMO_DIR ?= work_dirs/demo

.PHONY: install test demo clean-demo

install: $(STAMP)
	@# the stamp cannot see a package removed since: re-link mmseam if it
	@# is not importable from outside the repository
	@cd / && $(PYTHON) -c "import mmseam" 2>/dev/null || \
		$(PIP) install --no-build-isolation --no-deps -e "$(CURDIR)"

# Re-runs only when setup.py or a requirements file changes (a second
# `make install` is instant).
$(STAMP): setup.py requirements.txt requirements/*.txt
	$(PIP) install -r requirements/runtime.txt
	@# mmcv: keep an installed full mmcv (or mmcv-lite); otherwise take
	@# mmcv-lite, the pure-Python wheel (mmseam stubs the compiled ops).
	$(PYTHON) -c "import mmcv" 2>/dev/null || $(PIP) install "mmcv-lite==2.1.0"
	grep -v '^mmcv' requirements/mminstall.txt | $(PIP) install -r /dev/stdin
	$(PIP) install -r requirements/optional.txt -r requirements/tests.txt
	@# OpenMIM for the `mim train mmseam` test, without its own pins (they
	@# would downgrade setuptools); its imports come from tests.txt
	$(PIP) install --no-deps "openmim==0.3.9"
	$(PIP) install --no-build-isolation --no-deps -e .
	$(PYTHON) -c "import mmseam, mmseg.models; print('mmseam', mmseam.__version__, 'installed')"
	touch $(STAMP)

test: install
	$(PYTHON) -m pytest -q tests

demo: install
	$(PYTHON) tools/run_pipeline.py --preset synthetic --work-dir $(DEMO_DIR)

clean-demo:
	rm -rf $(DEMO_DIR)
