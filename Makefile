# emailsec.hes: one-command setup, test, demo and benchmarks.
# Everything lives in .venv/ (from requirements*.txt) and .collections/ (a link to this checkout),
# so a fresh clone needs nothing but python3 (and root for the nftables/netns parts).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
COLLECTION_LINK := .collections/ansible_collections/emailsec/hes
SANITY_ROOT := build/sanity/ansible_collections/emailsec/hes
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup test demo bench unit lab-tests integration lint sanity molecule changelog clean sysdeps sysdeps-mta sysdeps-php

setup: $(STAMP) $(COLLECTION_LINK) sysdeps

$(STAMP): requirements.txt requirements-test.txt lab/pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-test.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e ./lab
	touch $@

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

# nft and iproute2 for the nftables role and the namespace lab; only installed when missing.
sysdeps:
	@if ! command -v nft >/dev/null || ! command -v ip >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -q nftables iproute2 >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null && apt-get install -y -q nftables iproute2 >/dev/null)); \
	  else echo "note: nft/ip missing and not root: nftables tests will fail"; fi; \
	fi
	@$(MAKE) --no-print-directory sysdeps-mta
	@$(MAKE) --no-print-directory sysdeps-php

# postfix, dnsmasq and swaks for the Postfix mail lab; only installed when missing. debconf's answer
# "No configuration" writes no /etc/postfix/main.cf, and while apt runs a policy-rc.d that refuses
# every start (only when the host has none) keeps the package from starting a system-wide daemon on
# port 25: the lab runs Postfix inside its namespace only, from its own config and queue directories.
# dnsmasq-base is the dnsmasq program without the system service.
MTA_PACKAGES := postfix dnsmasq-base swaks

sysdeps-mta:
	@if ! command -v postconf >/dev/null || ! command -v dnsmasq >/dev/null || ! command -v swaks >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	    policy=; if [ ! -e /usr/sbin/policy-rc.d ]; then policy=/usr/sbin/policy-rc.d; \
	      printf '#!/bin/sh\n# emailsec.hes make setup: no service starts while apt installs the mail lab\nexit 101\n' > $$policy; \
	      chmod 755 $$policy; trap 'rm -f $$policy' EXIT; fi; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q --no-install-recommends $(MTA_PACKAGES) >/dev/null 2>&1 || \
	      (apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $(MTA_PACKAGES) >/dev/null); \
	  else echo "note: postfix/dnsmasq/swaks missing and not root: the Postfix mail lab tests will fail"; fi; \
	fi

# Debian's php-cli and its xml extension for the pfSense lab (hes-lab pfsense runs pfSense's own
# xmlparse.inc and the lab's stand-ins for the rest of its PHP); only installed when missing.
sysdeps-php:
	@if ! php -r 'exit(function_exists("xml_parser_create") ? 0 : 1);' >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q --no-install-recommends php-cli php-xml >/dev/null 2>&1 || \
	      (apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends php-cli php-xml >/dev/null); \
	  else echo "note: php-cli/php-xml missing and not root: the pfSense lab tests will fail"; fi; \
	fi

# Much of the test time is spent waiting on SSH prompts, TLS round trips and process start-up:
# pytest runs 3 workers (a test file each at a time), then lint, sanity and Molecule side by side.
# More workers do not help on 2 cores: the ansible-playbook runs then compete for the CPU.
PYTEST_WORKERS ?= 3

test: setup
	$(PY) -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadfile tests
	$(MAKE) --no-print-directory -j3 --output-sync=target lint sanity molecule

unit: setup
	$(PY) -m pytest -q -p no:cacheprovider tests/unit

lint: setup
	$(BIN)/ansible-lint --profile production --offline

# ansible-test bootstraps pip in its sanity venvs with a script from a host we cannot reach:
# tests/sanity/get_pip_offline.py stands in for it (see that file).
GET_PIP_VERSION = $(shell sed -n "s/^ *pip='\([0-9.]*\)',/\1/p" $(VENV)/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py | head -1)
GET_PIP_CACHE = $(HOME)/.ansible/test/cache/get_pip_$(subst .,_,$(GET_PIP_VERSION)).py

sanity: setup
	mkdir -p $(dir $(GET_PIP_CACHE))
	cert=$$($(BIN)/pip config get global.cert 2>/dev/null || echo "$${PIP_CERT:-}"); \
	  sed "s|@PIP_CERT@|$$cert|" tests/sanity/get_pip_offline.py > $(GET_PIP_CACHE)
	rm -rf build/sanity && mkdir -p $(SANITY_ROOT)
	git ls-files -z --cached --others --exclude-standard | grep -zv '^lab/' | \
	  xargs -0 -I{} cp --parents {} $(SANITY_ROOT)/
	cd $(SANITY_ROOT) && git init -q && git add -A && \
	  ansible-test sanity --python 3.11 --local --color no $(SANITY_ARGS)

# The scenarios are independent (own emulator or namespaces, own state), so they run side by side;
# each one's log is printed when all are done.
molecule: setup
	@rm -rf build/molecule; mkdir -p build/molecule; \
	for s in extensions/molecule/*/molecule.yml; do \
	  n=$$(basename $$(dirname $$s)); [ "$$n" = default ] && continue; \
	  ( (cd extensions && molecule test -s $$n > ../build/molecule/$$n.log 2>&1); echo $$? > build/molecule/$$n.rc ) & \
	done; wait; fail=0; \
	for rc in build/molecule/*.rc; do n=$$(basename $$rc .rc); \
	  echo "== molecule test -s $$n (exit $$(cat $$rc))"; cat build/molecule/$$n.log; \
	  [ "$$(cat $$rc)" = 0 ] || fail=1; done; exit $$fail

demo: setup
	$(PY) -m hes_lab.demo

# N=1,10,50 with every scenario takes about 12 minutes here, N=200 (four ASA scenarios) about 25:
# `make bench BENCH_ARGS="--sizes 1,10,50,200"`.
BENCH_ARGS ?= --sizes 1,10

bench: setup
	$(PY) -m hes_lab.bench $(BENCH_ARGS)

changelog: setup
	$(BIN)/antsibull-changelog lint

clean:
	rm -rf build .collections
