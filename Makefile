# SPDX-License-Identifier: GPL-2.0
#
# npoll: out-of-tree module, libnpoll, selftests and examples.
#
#   make            module (against KDIR), library, selftests, examples
#   make check      install deps, build, run every test on both guests
#   make demo       boot the distro guest and run the demo
#   make debug-module   module built against the debug guest kernel
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

DEBUG_KDIR = $(shell scripts/build-debug-kernel debug)

.PHONY: all module userlib selftests examples debug-module check demo clean

all: module userlib selftests examples

module:
	@test -n "$(KDIR)" || { echo "no kernel headers: run scripts/install-deps"; exit 1; }
	$(MAKE) -C $(KDIR) M=$(PWD) W=1 modules

# A second build of the same sources against the debug guest kernel, in
# its own output directory so that both builds coexist.
debug-module:
	@mkdir -p build/debug
	rsync -aR --delete --exclude '*.o' --exclude '*.ko' --exclude '*.mod' \
		--exclude '*.mod.c' --exclude '.*.cmd' --exclude 'modules.order' \
		--exclude 'Module.symvers' Kbuild kmod uapi selftests/kmod build/debug/
	$(MAKE) -C $(DEBUG_KDIR) M=$(PWD)/build/debug W=1 modules

userlib:
	$(MAKE) -C userlib

selftests: userlib
	$(MAKE) -C selftests

examples: userlib
	$(MAKE) -C examples

check:
	scripts/check

demo:
	scripts/demo

clean:
	-$(MAKE) -C $(KDIR) M=$(PWD) clean
	$(MAKE) -C userlib clean
	$(MAKE) -C selftests clean
	$(MAKE) -C examples clean
	rm -rf build
