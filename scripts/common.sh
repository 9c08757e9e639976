# SPDX-License-Identifier: GPL-2.0
# Shared settings for npoll's scripts.  Sourced, not executed.

NPOLL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Guest kernels, the busybox initramfs base and the extracted kernel
# source live outside the repository so that a fresh clone reuses them.
NPOLL_CACHE=${NPOLL_CACHE:-/var/cache/npoll}
NPOLL_JOBS=${NPOLL_JOBS:-$(nproc)}

# Kernel log lines that make a run fail (scripts/vm-run on the host, and
# selftests/run-guest-tests in the guest, which gets it in its
# environment).  Extended regular expression.
NPOLL_SPLAT_RE='BUG:|WARNING:|Oops|KASAN|UBSAN|general protection fault|kernel BUG'
NPOLL_SPLAT_RE+='|possible circular locking|possible recursive locking|inconsistent lock state'
NPOLL_SPLAT_RE+='|suspicious RCU usage|possible irq lock inversion|lock held when returning'
NPOLL_SPLAT_RE+='|DEBUG_LOCKS_WARN_ON|unreferenced object|scheduling while atomic'
NPOLL_SPLAT_RE+='|blocked for more than|rcu_sched self-detected stall|RCU stall|soft lockup'
NPOLL_SPLAT_RE+='|ODEBUG:|list_add corruption|list_del corruption|Kernel panic'

# The selftest programs that test semantics rather than the module: they
# also run against libnpoll's user-space backend (NPOLL_BACKEND=user), on
# the host (scripts/check-user-backend) and in the distro guest (scripts/
# check).  Their tests of what only the module does skip there.
NPOLL_USER_PROGRAMS="wait_test deadline_test io_test fd_reuse_test signal_test
	sched_test harvest_test close_test race_test busy_test nest_test
	stress/stress_test"

# npoll_veth_extras KERNEL: vm-run arguments, added to the caller's
# array tools, that give a Debian kernel's guest its own veth module at
# /npoll/extra/veth.ko and iproute2's ip at /usr/sbin/ip (busybox's has
# no veth peers): the NAPI path of busy_test and of npoll-bench.
npoll_veth_extras() {	# KERNEL
	local k=$1 veth ipbin
	veth=$(find "$(npoll_deb_dir "$k")/modules/kernel/drivers/net" -name 'veth.ko*' | head -n 1)
	if [ -n "$veth" ]; then
		mkdir -p "$NPOLL_ROOT/build"
		case $veth in
		*.xz) xz -dc "$veth" >"$NPOLL_ROOT/build/veth-$k.ko" ;;
		*) cp "$veth" "$NPOLL_ROOT/build/veth-$k.ko" ;;
		esac
		tools+=(--add "$NPOLL_ROOT/build/veth-$k.ko:/npoll/extra/veth.ko")
	fi
	ipbin=$(readlink -f "$(PATH=/usr/sbin:/sbin:$PATH command -v ip)") &&
		tools+=(--add "$ipbin:/usr/sbin/ip")
}

npoll_log() { printf '[npoll] %s\n' "$*" >&2; }
npoll_die() { printf '[npoll] error: %s\n' "$*" >&2; exit 1; }

# --- guest kernels ------------------------------------------------------------
#
# Every guest kernel has a name (scripts/vm-run --kernel NAME, make module
# KERNEL=NAME, scripts/check).  Three are Debian's own images with their
# headers, fetched with apt-get download and unpacked, never installed;
# three are built from Debian's linux-source packages with a config
# fragment of scripts/kconfig/.  Adding a kernel is one line in each of
# the two tables below.
#
#   name         kind    where it comes from
#   distro       deb     linux-image-<ABI>-amd64 of the installed linux-headers-amd64 (6.1)
#   distro-6.12  deb     linux-image-6.12.*+deb12-amd64, headers unpacked next to it
#   rt           deb     linux-image-6.12.*+deb12-rt-amd64 (PREEMPT_RT), its headers
#   debug        built   linux-source-6.1, scripts/kconfig/debug.config
#   debug-rt     built   linux-source-6.12, scripts/kconfig/debug-rt.config (PREEMPT_RT)
#   kcsan        built   linux-source-6.1, scripts/kconfig/kcsan.config
NPOLL_KERNELS="distro distro-6.12 rt debug debug-rt"
NPOLL_ALL_KERNELS="$NPOLL_KERNELS kcsan"

# npoll_kernel_kind NAME: deb or built; fails for an unknown name.
npoll_kernel_kind() {
	case $1 in
	distro|distro-6.12|rt) echo deb ;;
	debug|debug-rt|kcsan) echo built ;;
	*) return 1 ;;
	esac
}

# The meta-package whose Depends names the ABI of a Debian kernel.
npoll_deb_meta() {
	case $1 in
	distro) echo linux-headers-amd64 ;;
	distro-6.12) echo linux-headers-6.12-amd64 ;;
	rt) echo linux-headers-6.12-rt-amd64 ;;
	*) return 1 ;;
	esac
}

# The linux-source series a built kernel comes from.
npoll_built_series() {
	case $1 in
	debug|kcsan) echo 6.1 ;;
	debug-rt) echo 6.12 ;;
	*) return 1 ;;
	esac
}

# How a guest's kernel log reaches the host: serial (the kernel's own
# console on ttyS1) or kmsg (no console; the guest's init copies
# /dev/kmsg to ttyS1).  scripts/vm-run explains why.
npoll_kernel_console() {
	case $1 in
	debug) echo kmsg ;;
	*) echo serial ;;
	esac
}

npoll_check_kernel() {
	npoll_kernel_kind "$1" >/dev/null ||
		npoll_die "unknown kernel '$1' (one of: $NPOLL_ALL_KERNELS)"
}

# ABI of the installed linux-headers-amd64 (e.g. 6.1.0-56-amd64).
npoll_distro_abi() {
	local v
	v=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null |
		grep -o 'linux-headers-[0-9][^ ,]*-amd64' | head -n1)
	[ -n "$v" ] || return 1
	echo "${v#linux-headers-}"
}

# ABI of a Debian kernel NAME: for distro that of the installed headers,
# for the others the newest the archive's meta-package names.
npoll_deb_abi() {
	local meta v
	if [ "$1" = distro ]; then
		npoll_distro_abi
		return
	fi
	meta=$(npoll_deb_meta "$1") || return 1
	v=$(apt-cache show --no-all-versions "$meta" 2>/dev/null |
		sed -n 's/^Depends: //p' | grep -o 'linux-headers-[0-9][^ ,]*-amd64' | head -n1)
	[ -n "$v" ] || return 1
	echo "${v#linux-headers-}"
}

# Where a Debian kernel NAME is unpacked: vmlinuz, config, modules/ and,
# for all but distro, root/ with its headers and kbuild.
npoll_deb_dir() {
	local abi
	abi=$(npoll_deb_abi "$1") || return 1
	if [ "$1" = distro ]; then
		echo "$NPOLL_CACHE/distro-$abi"
	else
		echo "$NPOLL_CACHE/deb-$abi"
	fi
}

npoll_source_version() {	# [SERIES]: version of the installed linux-source-SERIES
	dpkg-query -W -f='${Version}' "linux-source-${1:-6.1}" 2>/dev/null
}

# Cache key of a built kernel: the source version, the config fragment
# and the script that builds it.
npoll_debug_key() {
	local flavour=${1:-debug} series
	series=$(npoll_built_series "$flavour") || return 1
	{
		npoll_source_version "$series"
		cat "$NPOLL_ROOT/scripts/kconfig/$flavour.config"
		cat "$NPOLL_ROOT/scripts/build-debug-kernel"
	} | sha256sum | cut -c1-16
}

npoll_debug_dir() {
	local flavour=${1:-debug} series
	series=$(npoll_built_series "$flavour") || return 1
	echo "$NPOLL_CACHE/kernel-$flavour-$(npoll_source_version "$series")-$(npoll_debug_key "$flavour")"
}

# npoll_kernel_kdir NAME: the build tree modules for NAME build against
# (it need not exist yet: scripts/kernel prepare makes it).
npoll_kernel_kdir() {
	local d
	case $(npoll_kernel_kind "$1") in
	deb)
		if [ "$1" = distro ]; then
			echo "/usr/src/linux-headers-$(npoll_distro_abi)"
		else
			d=$(npoll_deb_dir "$1") || return 1
			echo "$d/root/usr/src/linux-headers-$(npoll_deb_abi "$1")"
		fi
		;;
	built) npoll_debug_dir "$1" ;;
	*) return 1 ;;
	esac
}

# npoll_kdir_release KDIR: the kernel release a build tree builds for
# (its UTS_RELEASE, what a module's vermagic names).
npoll_kdir_release() {
	sed -n 's/.*UTS_RELEASE "\(.*\)".*/\1/p' "$1/include/generated/utsrelease.h" 2>/dev/null
}

# npoll_kernel_image NAME: the guest's bzImage.
npoll_kernel_image() {
	case $(npoll_kernel_kind "$1") in
	deb) echo "$(npoll_deb_dir "$1")/vmlinuz" ;;
	built) echo "$(npoll_debug_dir "$1")/arch/x86/boot/bzImage" ;;
	*) return 1 ;;
	esac
}

# npoll_kernel_build NAME: the tree the module for NAME is built in.
# distro builds in place (kmod/, what plain make builds); every other
# kernel in a copy under build/NAME so that all builds coexist.
npoll_kernel_build() {
	if [ "$1" = distro ]; then
		echo "$NPOLL_ROOT"
	else
		echo "$NPOLL_ROOT/build/$1"
	fi
}

# The extracted tree of the installed linux-source-SERIES (default 6.1),
# in $NPOLL_CACHE: extracted on first use.  Prints its path.
npoll_source_tree() {
	local series=${1:-6.1} ver src
	ver=$(npoll_source_version "$series") || true
	[ -n "$ver" ] || { npoll_log "linux-source-$series is not installed (scripts/install-deps)"; return 1; }
	src=$NPOLL_CACHE/linux-source-$ver
	if [ ! -f "$src/.npoll-extracted" ]; then
		npoll_log "extracting linux-source $ver into $src"
		if ! { rm -rf "$src" "$src.tmp" && mkdir -p "$src.tmp" &&
			tar -C "$src.tmp" --strip-components=1 \
				-xJf "/usr/src/linux-source-$series.tar.xz" &&
			touch "$src.tmp/.npoll-extracted" && mv "$src.tmp" "$src"; }; then
			npoll_log "cannot extract linux-source into $src"
			return 1
		fi
	fi
	echo "$src"
}
