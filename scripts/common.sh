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

npoll_log() { printf '[npoll] %s\n' "$*" >&2; }
npoll_die() { printf '[npoll] error: %s\n' "$*" >&2; exit 1; }

# ABI of the installed linux-headers-amd64 (e.g. 6.1.0-56-amd64).
npoll_distro_abi() {
	local v
	v=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null |
		grep -o 'linux-headers-[0-9][^ ,]*-amd64' | head -n1)
	[ -n "$v" ] || return 1
	echo "${v#linux-headers-}"
}

npoll_source_version() {
	dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null
}

# Cache key of the debug kernel: the source version, the config fragment
# and the script that builds it.
npoll_debug_key() {
	local flavour=${1:-debug}
	{
		npoll_source_version
		cat "$NPOLL_ROOT/scripts/kconfig/$flavour.config"
		cat "$NPOLL_ROOT/scripts/build-debug-kernel"
	} | sha256sum | cut -c1-16
}

npoll_debug_dir() {
	local flavour=${1:-debug}
	echo "$NPOLL_CACHE/kernel-$flavour-$(npoll_source_version)-$(npoll_debug_key "$flavour")"
}

# The extracted tree of the installed linux-source-6.1, in $NPOLL_CACHE
# (the one scripts/build-debug-kernel builds from): extracted on first
# use.  Prints its path.
npoll_source_tree() {
	local ver src
	ver=$(npoll_source_version) || true
	[ -n "$ver" ] || { npoll_log "linux-source-6.1 is not installed (scripts/install-deps)"; return 1; }
	src=$NPOLL_CACHE/linux-source-$ver
	if [ ! -f "$src/.npoll-extracted" ]; then
		npoll_log "extracting linux-source $ver into $src"
		if ! { rm -rf "$src" "$src.tmp" && mkdir -p "$src.tmp" &&
			tar -C "$src.tmp" --strip-components=1 \
				-xJf /usr/src/linux-source-6.1.tar.xz &&
			touch "$src.tmp/.npoll-extracted" && mv "$src.tmp" "$src"; }; then
			npoll_log "cannot extract linux-source into $src"
			return 1
		fi
	fi
	echo "$src"
}
