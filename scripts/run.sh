#!/bin/sh
# run.sh: build madvise-shim and run its demo or its test suite, installing
# missing Debian packages first when run as root.
#
#   scripts/run.sh demo   build, then madvise-demo on a simulated kernel without
#                         madvise: without the shim, then with it
#   scripts/run.sh test   build with gcc and clang, then meson test
#   scripts/run.sh test --host-kernel X.Y
#                         the same, with every test on a simulated host kernel
#                         (madvise-sim --kernel X.Y): tests that need a newer
#                         kernel must skip, naming the feature
#
# POSIX sh.  Every command that changes something is printed before it runs.

set -eu

me=run.sh

usage() {
	cat <<EOF
usage: scripts/run.sh demo|test
       scripts/run.sh test --host-kernel X.Y
       scripts/run.sh --help

  demo  build in build/, then run madvise-demo under madvise-sim (a simulated
        kernel without madvise), first without and then with madvise-shim;
        exits with the status of the second run (0: memory was returned)
  test  build in build/ with the default compiler and in build-clang/ with
        clang (compile only), both with -Dwerror=true, then run
        meson test -C build; exits with its status
  --host-kernel X.Y
        run every test under madvise-sim --kernel X.Y, a stand-in for a host
        whose kernel is Linux X.Y (e.g. Debian 12's 6.1); with test only

Every skipped test names its reason, and a summary lists each reason once.
Reasons begin with a class: "host kernel:" (the kernel lacks a feature),
"host:" (the machine's configuration or privileges), "selected:" (a test
selection such as FUZZ_VARIANTS), "missing:" (a tool this script installs).
Under CI=true a skip of any class but the first three fails the run.

Missing Debian packages are installed with apt-get when run as root; otherwise
they are listed and the script exits with status 1.  Usage errors exit with 2.
EOF
}

say() {
	printf '%s: %s\n' "$me" "$*"
}

# Prints a command, then runs it.
run() {
	printf '+ %s\n' "$*"
	"$@"
}

usage_error() {
	printf '%s: %s (usage: scripts/run.sh demo|test [--host-kernel X.Y]|--help)\n' "$me" "$1" >&2
	exit 2
}

host_kernel=
host_kernel_given=0
args=
while [ $# -gt 0 ]; do
	case $1 in
	--host-kernel)
		[ $# -ge 2 ] || usage_error "option '--host-kernel' needs a version X.Y"
		host_kernel=$2 host_kernel_given=1
		shift
		;;
	--host-kernel=*) host_kernel=${1#*=} host_kernel_given=1 ;;
	*) args="$args${args:+ }$1" ;;
	esac
	shift
done
# X.Y or X.Y.Z: digits and one or two dots, none at an end or doubled.
if [ "$host_kernel_given" -eq 1 ]; then
	case $host_kernel in
	*[!0-9.]* | .* | *. | *..* | *.*.*.*) host_kernel_ok=0 ;;
	*.*) host_kernel_ok=1 ;;
	*) host_kernel_ok=0 ;;
	esac
	[ "$host_kernel_ok" -eq 1 ] ||
		usage_error "--host-kernel takes a version X.Y or X.Y.Z, not '$host_kernel'"
fi
# shellcheck disable=SC2086 # the remaining words, none with blanks
set -- $args
case $# in
0) usage_error "missing action: demo or test" ;;
1) ;;
*) usage_error "expected one action, got $#: $*" ;;
esac
case $1 in
-h | --help)
	usage
	exit 0
	;;
demo | test)
	action=$1
	if [ "$action" = demo ] && [ "$host_kernel_given" -eq 1 ]; then
		usage_error "--host-kernel goes with test, not demo"
	fi
	;;
-*)
	usage_error "unknown option '$1'"
	;;
*)
	usage_error "unknown action '$1' (accepted: demo, test)"
	;;
esac

# The repository root is the parent of this script's directory.
case $0 in
*/*) here=${0%/*} ;;
*) here=. ;;
esac
root=$(CDPATH='' cd -- "$here/.." && pwd -P)
cd "$root"
say "in $root"

# --- (a) packages ---------------------------------------------------------------

packages="gcc clang meson ninja-build pkg-config libseccomp-dev libc6-dev bats bats-assert bats-support strace"
if [ "$action" = test ] && ! command -v node >/dev/null 2>&1; then
	packages="$packages nodejs"
fi
if [ "$action" = test ]; then
	# The realkernel suite: scripts/realkernel builds a Linux 6.1 kernel
	# without the advise system calls and boots it in qemu.
	packages="$packages qemu-system-x86 linux-source-6.1 busybox-static flex bison bc libelf-dev libssl-dev cpio build-essential xz-utils"
fi
if [ "$action" = test ]; then
	# The allocators suite preloads these allocators with the shim; the
	# stress suite runs its workloads under helgrind (valgrind).
	packages="$packages libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 valgrind"
fi

missing=
if command -v dpkg-query >/dev/null 2>&1; then
	for pkg in $packages; do
		# shellcheck disable=SC2016 # ${Status} is dpkg-query's, not ours
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) || status=
		if [ "$status" != "install ok installed" ]; then
			missing="${missing:+$missing }$pkg"
		fi
	done
else
	say "no dpkg-query: not a Debian system, so not checking packages ($packages)"
fi

if [ -n "$missing" ]; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		say "installing missing packages: $missing"
		DEBIAN_FRONTEND=noninteractive
		export DEBIAN_FRONTEND
		run apt-get update
		# shellcheck disable=SC2086 # one argument per package
		run apt-get install -y --no-install-recommends $missing
	else
		say "missing Debian packages: $missing" >&2
		if [ "$(id -u)" -eq 0 ]; then
			say "apt-get was not found; install them by other means and run again" >&2
		else
			say "run as root to have them installed, or install them with:" >&2
			say "  sudo apt-get install --no-install-recommends $missing" >&2
		fi
		exit 1
	fi
else
	say "all needed packages are installed"
fi

# --- (b) build ------------------------------------------------------------------

configured() {
	[ -f "$1/meson-private/coredata.dat" ]
}

build_dir() {  # build_dir DIR
	if configured "$1"; then
		run meson setup --reconfigure "$1" -Dwerror=true
	else
		run meson setup "$1" -Dwerror=true
	fi
	run meson compile -C "$1"
}

build_dir build

# --- (c) the action ---------------------------------------------------------------

if [ "$action" = demo ]; then
	sim=build/tools/madvise-sim
	demo=build/tools/madvise-demo
	shim=build/scripts/madvise-shim

	echo
	echo "== madvise-demo on a simulated kernel without madvise, no shim =="
	status=0
	run "$sim" -- "$demo" || status=$?
	say "exit status $status"

	echo
	echo "== madvise-demo on a simulated kernel without madvise, with madvise-shim =="
	status=0
	run "$sim" -- "$shim" -- "$demo" || status=$?
	say "exit status $status"
	exit "$status"
fi

# test: a clang build proves the code compiles without warnings there too.
if configured build-clang &&
	meson introspect --compilers build-clang 2>/dev/null | grep -q '"id": *"clang"'; then
	run meson setup --reconfigure build-clang -Dwerror=true
elif configured build-clang; then
	say "build-clang/ was configured with another compiler: wiping it"
	run env CC=clang meson setup --wipe build-clang -Dwerror=true
else
	run env CC=clang meson setup build-clang -Dwerror=true
fi
run meson compile -C build-clang

status=0
# meson names its log after the wrapper, if there is one.
log=build/meson-logs/testlog.txt
if [ "$host_kernel_given" -eq 1 ]; then
	say "every test runs on a simulated Linux $host_kernel host (madvise-sim --kernel $host_kernel)"
	run meson test -C build --print-errorlogs \
		--wrapper "$root/build/tools/madvise-sim --kernel $host_kernel --" || status=$?
	log=build/meson-logs/testlog-madvise-sim.txt
else
	run meson test -C build --print-errorlogs || status=$?
fi
say "meson test exit status $status"

# Each skip's reason once, and one closing line over every TAP subtest of
# every suite, for CI to read; under CI=true a skip for a missing tool fails.
if [ -f "$log" ]; then
	sh scripts/test-summary "$log" "$status" || status=$?
fi
exit "$status"
