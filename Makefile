# SPDX-License-Identifier: GPL-2.0
#
# npoll: out-of-tree module, libnpoll, selftests and examples.
#
#   make            module (against KDIR), library, examples, npoll-stat
#                   and the selftests where the kselftest harness is at hand
#   make module KERNEL=NAME   npoll.ko for guest kernel NAME (distro,
#                   distro-6.12, rt, debug, debug-rt, kcsan), fetching or
#                   building that kernel first (scripts/kernel)
#   make check      install deps, build, run every test on every guest kernel
#   make check-quick  host checks, the distro guest, KUnit on the debug guest
#   make demo       boot the distro guest and run the demo
#   make bench      npoll-bench in one --icount guest: table, build/bench.{json,png}
#   make clean

# The running kernel's build tree when it has one, else the newest
# installed Debian headers (the distro guest kernel matches those).
KDIR ?= $(shell if [ -d /lib/modules/$$(uname -r)/build ]; then \
		echo /lib/modules/$$(uname -r)/build; \
	else \
		ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n1; \
	fi)

PWD := $(shell pwd)
CC ?= gcc
CFLAGS ?= -O2 -g
NPOLL_CFLAGS := -Wall -Wextra -Werror -D_GNU_SOURCE -Iuserlib/include -Iuapi
export CC CFLAGS NPOLL_CFLAGS

.PHONY: all module userlib selftests examples tools debug-module check check-quick demo clean

all: module userlib selftests-if-possible examples tools

# Without KERNEL: the module for KDIR, the machine's own kernel.  With
# KERNEL=NAME: for that guest kernel, in kmod/ for distro and in a copy
# under build/NAME for the others, so that every build coexists.
module:
ifeq ($(KERNEL),)
	@test -n "$(KDIR)" || { echo "no kernel headers: install linux-headers-$$(uname -r) (or run scripts/install-deps)"; exit 1; }
	$(MAKE) -C $(KDIR) M=$(PWD) W=1 modules
else
	scripts/kernel module $(KERNEL)
endif

debug-module:
	scripts/kernel module debug

userlib:
	$(MAKE) -C userlib

# The selftests need the kselftest harness, which comes from Debian's
# linux-source-6.1 (scripts/kselftest-headers): where it is missing, as on
# a machine with only its kernel's headers, plain make leaves them out and
# says so; make selftests and the test targets insist.
selftests: userlib
	$(MAKE) -C selftests

.PHONY: selftests-if-possible
selftests-if-possible: userlib
	@if scripts/kselftest-headers --check; then $(MAKE) -C selftests; else \
		echo "make: selftests skipped: no kselftest harness (linux-source-6.1; scripts/install-deps)"; fi

examples: userlib
	$(MAKE) -C examples

tools:
	$(MAKE) -C tools

check:
	scripts/check

check-quick:
	scripts/check --quick

demo:
	scripts/demo

.PHONY: bench
bench:
	scripts/bench

clean:
	-$(MAKE) -C $(KDIR) M=$(PWD) clean
	$(MAKE) -C userlib clean
	$(MAKE) -C selftests clean
	$(MAKE) -C examples clean
	$(MAKE) -C tools clean
	rm -rf build

# --- install and DKMS (packaging/, man/, dkms.conf) -------------------------
#
#   make install        npoll.ko into /lib/modules/<release>/extra (then
#                       depmod; signed when SIGN_KEY is given), library,
#                       headers, libnpoll.pc and man pages under PREFIX,
#                       the udev rule and the modules-load.d entry
#   make uninstall      remove what install put there
#   make dkms-install   module sources into /usr/src/npoll-<version>, then
#                       dkms add, build, install; udev rule, modules-load.d
#   make dkms-uninstall dkms remove, then the sources
#
# install does not build the module (as the kernel's modules_install):
# run make first.  DESTDIR stages everything under another root; depmod
# then runs only if that root already has a modules.dep for the release.
# KRELEASE, the release the module is for, is the UTS_RELEASE of KDIR
# (Debian's headers report 6.1.x from `make kernelrelease`, but modules
# live under, and vermagic names, e.g. 6.1.0-56-amd64).
#
# The UAPI header goes to INCLUDEDIR/npoll/linux/npoll.h, not to
# INCLUDEDIR/linux/, which belongs to the C library's kernel headers
# (linux-libc-dev); libnpoll.pc adds -I INCLUDEDIR/npoll, so that
# #include <linux/npoll.h> works for its users.
#
# Secure Boot: SIGN_KEY=key.pem SIGN_CERT=cert.der (or .pem) sign the
# installed copy of npoll.ko (not kmod/npoll.ko) with the kernel's
# sign-file, $(KDIR)/scripts/sign-file (Debian: from linux-kbuild-<series>),
# using the kernel's CONFIG_MODULE_SIG_HASH.  SIGN_CERT defaults to
# SIGN_KEY, for a PEM file that holds both.

NPOLL_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="*\([^"]*\)"*$$/\1/p' dkms.conf)
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
BINDIR ?= $(PREFIX)/bin
# npoll-waits.bt (bpftrace: root only) goes where bpftrace's own tools go.
SBINDIR ?= $(PREFIX)/sbin
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
UDEVRULESDIR ?= /usr/lib/udev/rules.d
MODULESLOADDIR ?= /usr/lib/modules-load.d
DKMS_SRCDIR ?= /usr/src/npoll-$(NPOLL_VERSION)
DKMS ?= dkms
DKMS_FLAGS ?=
KRELEASE ?= $(shell sed -n 's/.*UTS_RELEASE "\(.*\)".*/\1/p' \
		$(KDIR)/include/generated/utsrelease.h 2>/dev/null)
SIGN_KEY ?=
SIGN_CERT ?= $(SIGN_KEY)
SIGN_FILE ?= $(KDIR)/scripts/sign-file
SIGN_HASH ?= $(or $(shell sed -n 's/^CONFIG_MODULE_SIG_HASH="\(.*\)"/\1/p' \
		$(KDIR)/.config 2>/dev/null),sha256)

# modinfo, depmod, ldconfig and dkms live in sbin, which a user's PATH
# may lack.
NPOLL_SBIN := PATH="$$PATH:/usr/sbin:/sbin"
MODULE_DIR = $(DESTDIR)/lib/modules/$(KRELEASE)
# libnpoll.so -> libnpoll.so.1 -> libnpoll.so.1.4.0, as userlib/ built them.
LIB_SONAME = $(shell readlink userlib/libnpoll.so)
LIB_SOREAL = $(shell readlink userlib/$(LIB_SONAME))
DKMS_KMOD_SRCS = kmod/Kbuild $(wildcard kmod/*.h) \
	$(filter-out %.mod.c,$(wildcard kmod/*.c))
# Man pages of calls documented together with another one: every name
# in a page's NAME section but its own becomes a link to it.
MAN3_PAGES = $(wildcard man/man3/*.3)
man_links = for p in $(notdir $(MAN3_PAGES)); do \
		sed -n '/^\.Sh NAME/,/^\.Sh DESC/s/^\.Nm \([A-Za-z0-9_]*\).*/\1/p' \
			man/man3/$$p | grep -vx "$${p%.3}" | sed "s|\$$| $$p|"; \
	done

.PHONY: install install-module install-userlib install-tools install-man install-data
.PHONY: uninstall dkms-source dkms-install dkms-uninstall

install: install-module install-userlib install-tools install-man install-data

install-module:
	@test -f kmod/npoll.ko || { echo "kmod/npoll.ko is not built: run make first"; exit 1; }
	@test -n "$(KRELEASE)" || { echo "no UTS_RELEASE in KDIR=$(KDIR): set KRELEASE"; exit 1; }
	@vm=$$($(NPOLL_SBIN) modinfo -F vermagic kmod/npoll.ko | cut -d' ' -f1); \
	test "$$vm" = "$(KRELEASE)" || { \
		echo "kmod/npoll.ko is built for $$vm, not $(KRELEASE): make module KDIR=..."; exit 1; }
ifneq ($(SIGN_KEY),)
	@test -f "$(SIGN_KEY)" || { echo "SIGN_KEY=$(SIGN_KEY): no such file; nothing installed"; exit 1; }
	@test -f "$(SIGN_CERT)" || { echo "SIGN_CERT=$(SIGN_CERT): no such file; nothing installed"; exit 1; }
	@test -x "$(SIGN_FILE)" || { echo "no sign-file at $(SIGN_FILE) (Debian: linux-kbuild-<series>): set SIGN_FILE; nothing installed"; exit 1; }
endif
	install -D -m 644 kmod/npoll.ko $(MODULE_DIR)/extra/npoll.ko
ifneq ($(SIGN_KEY),)
	@echo "$(SIGN_FILE) $(SIGN_HASH) $(SIGN_KEY) $(SIGN_CERT) $(MODULE_DIR)/extra/npoll.ko"
	@$(SIGN_FILE) $(SIGN_HASH) "$(SIGN_KEY)" "$(SIGN_CERT)" $(MODULE_DIR)/extra/npoll.ko || { \
		rm -f $(MODULE_DIR)/extra/npoll.ko; echo "signing failed: npoll.ko not installed"; exit 1; }
endif
	@if [ -e $(MODULE_DIR)/modules.dep ]; then \
		echo "depmod -a $(if $(DESTDIR),-b $(DESTDIR) )$(KRELEASE)"; \
		$(NPOLL_SBIN) depmod -a $(if $(DESTDIR),-b $(DESTDIR)) $(KRELEASE); \
	else \
		echo "depmod skipped: $(MODULE_DIR) has no modules.dep; run depmod -a $(KRELEASE) on the target"; \
	fi

install-userlib: userlib
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/npoll/linux $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 userlib/libnpoll.a $(DESTDIR)$(LIBDIR)/libnpoll.a
	install -m 755 userlib/$(LIB_SOREAL) $(DESTDIR)$(LIBDIR)/$(LIB_SOREAL)
	ln -sf $(LIB_SOREAL) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libnpoll.so
	install -m 644 userlib/include/npoll.h $(DESTDIR)$(INCLUDEDIR)/npoll.h
	install -m 644 uapi/linux/npoll.h $(DESTDIR)$(INCLUDEDIR)/npoll/linux/npoll.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(NPOLL_VERSION)|' \
		packaging/libnpoll.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/libnpoll.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/libnpoll.pc
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then $(NPOLL_SBIN) ldconfig; fi

install-tools: tools
	install -D -m 755 tools/npoll-stat $(DESTDIR)$(BINDIR)/npoll-stat
	install -D -m 755 tools/npoll-waits.bt $(DESTDIR)$(SBINDIR)/npoll-waits.bt

install-man:
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(MANDIR)/man8
	install -m 644 man/man1/npoll-stat.1 $(DESTDIR)$(MANDIR)/man1/npoll-stat.1
	install -m 644 man/man8/npoll-waits.bt.8 $(DESTDIR)$(MANDIR)/man8/npoll-waits.bt.8
	install -m 644 $(MAN3_PAGES) $(DESTDIR)$(MANDIR)/man3/
	install -m 644 man/man7/npoll.7 $(DESTDIR)$(MANDIR)/man7/npoll.7
	@$(man_links) | while read -r name page; do \
		ln -sf $$page $(DESTDIR)$(MANDIR)/man3/$$name.3; \
	done

install-data:
	install -D -m 644 packaging/60-npoll.rules $(DESTDIR)$(UDEVRULESDIR)/60-npoll.rules
	install -D -m 644 packaging/npoll.conf $(DESTDIR)$(MODULESLOADDIR)/npoll.conf

uninstall:
	rm -f $(MODULE_DIR)/extra/npoll.ko
	@if [ -n "$(KRELEASE)" ] && [ -e $(MODULE_DIR)/modules.dep ]; then \
		$(NPOLL_SBIN) depmod -a $(if $(DESTDIR),-b $(DESTDIR)) $(KRELEASE); fi
	rm -f $(DESTDIR)$(LIBDIR)/libnpoll.a $(DESTDIR)$(LIBDIR)/libnpoll.so \
		$(DESTDIR)$(LIBDIR)/libnpoll.so.*
	rm -f $(DESTDIR)$(INCLUDEDIR)/npoll.h $(DESTDIR)$(INCLUDEDIR)/npoll/linux/npoll.h
# Where earlier versions of this Makefile put the UAPI header:
	rm -f $(DESTDIR)$(INCLUDEDIR)/linux/npoll.h
	@rmdir $(DESTDIR)$(INCLUDEDIR)/npoll/linux $(DESTDIR)$(INCLUDEDIR)/npoll 2>/dev/null || true
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/libnpoll.pc
	rm -f $(DESTDIR)$(BINDIR)/npoll-stat $(DESTDIR)$(MANDIR)/man1/npoll-stat.1
	rm -f $(DESTDIR)$(SBINDIR)/npoll-waits.bt $(DESTDIR)$(MANDIR)/man8/npoll-waits.bt.8
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(MAN3_PAGES))) \
		$(DESTDIR)$(MANDIR)/man7/npoll.7
	@$(man_links) | while read -r name page; do \
		rm -f $(DESTDIR)$(MANDIR)/man3/$$name.3; \
	done
	rm -f $(DESTDIR)$(UDEVRULESDIR)/60-npoll.rules $(DESTDIR)$(MODULESLOADDIR)/npoll.conf
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then $(NPOLL_SBIN) ldconfig; fi

# The sources DKMS builds from: dkms.conf, kmod/ and the UAPI header.
dkms-source:
	rm -rf $(DESTDIR)$(DKMS_SRCDIR)
	install -d $(DESTDIR)$(DKMS_SRCDIR)/kmod $(DESTDIR)$(DKMS_SRCDIR)/uapi/linux
	install -m 644 dkms.conf $(DESTDIR)$(DKMS_SRCDIR)/dkms.conf
	install -m 644 $(DKMS_KMOD_SRCS) $(DESTDIR)$(DKMS_SRCDIR)/kmod/
	install -m 644 uapi/linux/npoll.h $(DESTDIR)$(DKMS_SRCDIR)/uapi/linux/npoll.h

# DKMS_FLAGS go to every dkms call (scripts/check-install points
# --dkmstree, --sourcetree and --installtree at a scratch directory).
dkms-install: install-data
	@test -n "$(KRELEASE)" || { echo "no UTS_RELEASE in KDIR=$(KDIR): set KRELEASE"; exit 1; }
	@if $(NPOLL_SBIN) $(DKMS) status -m npoll -v $(NPOLL_VERSION) $(DKMS_FLAGS) | grep -q '^npoll[/,]'; then \
		set -x; $(NPOLL_SBIN) $(DKMS) remove -m npoll -v $(NPOLL_VERSION) --all $(DKMS_FLAGS); fi
	$(MAKE) --no-print-directory dkms-source
	$(NPOLL_SBIN) $(DKMS) add -m npoll -v $(NPOLL_VERSION) $(DKMS_FLAGS)
	$(NPOLL_SBIN) $(DKMS) build -m npoll -v $(NPOLL_VERSION) -k $(KRELEASE) \
		--kernelsourcedir $(KDIR) $(DKMS_FLAGS)
	$(NPOLL_SBIN) $(DKMS) install -m npoll -v $(NPOLL_VERSION) -k $(KRELEASE) $(DKMS_FLAGS)

dkms-uninstall:
	@if $(NPOLL_SBIN) $(DKMS) status -m npoll -v $(NPOLL_VERSION) $(DKMS_FLAGS) | grep -q '^npoll[/,]'; then \
		set -x; $(NPOLL_SBIN) $(DKMS) remove -m npoll -v $(NPOLL_VERSION) --all $(DKMS_FLAGS); fi
	rm -rf $(DESTDIR)$(DKMS_SRCDIR)
	rm -f $(DESTDIR)$(UDEVRULESDIR)/60-npoll.rules $(DESTDIR)$(MODULESLOADDIR)/npoll.conf

# --- fuzz and KCSAN (Documentation/reliability.rst) --------------------------
#
#   make fuzz           the ioctl fuzzer on the debug guest, FUZZ_CALLS calls,
#                       and the fault-injection sweeps at FAULT_FILL levels
#   make check-kcsan    every selftest and the KUnit suites on a KCSAN guest
#                       kernel (built once, cached); fails on any report
#   make kcsan-module   module built against the KCSAN guest kernel
#   make coverage       kmod/*.c line and branch coverage under the whole
#                       suite on the debug guest (build/coverage/html)

FUZZ_CALLS ?= 2000000
# The fault-injection sweeps of make fuzz: at these fill levels of the
# poller (selftests/fault_test.c), make check's at 0 only.
FAULT_FILL ?= 0,1,63,64,65,4095,4096,4097

.PHONY: fuzz
fuzz: userlib selftests debug-module
	scripts/vm-run --kernel debug --timeout 14400 -- \
		env NPOLL_FUZZ_CALLS=$(FUZZ_CALLS) NPOLL_FAULT_FILL=$(FAULT_FILL) \
		NPOLL_UNPRIV=0 run-guest-tests selftests/fuzz/fuzz_test selftests/fault_test

.PHONY: kcsan-module
kcsan-module:
	scripts/kernel module kcsan

.PHONY: check-kcsan
check-kcsan:
	scripts/check --kernels kcsan

.PHONY: coverage
coverage: userlib selftests
	scripts/coverage
