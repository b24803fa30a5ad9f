#!/usr/bin/env bats
# madvise-sim: every option is checked by what a program under it really
# sees, through try-advice, which prints "ret=R errno=NAME" for one call.
#
# Tests that need the host kernel to support a feature (to show that the
# simulator lets it through) skip when the host lacks it; tests that show
# the simulator taking something away do not need the host to have it.

bats_require_minimum_version 1.5.0

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	load lib/host
	SIM=${MADVISE_SIM:?MADVISE_SIM is not set}
	TRY=${TEST_PROGS_DIR:?TEST_PROGS_DIR is not set}/try-advice
	PAGE=$(getconf PAGESIZE)
}

# Runs try-advice under the simulator with the options before "--".
#   try_sim --kernel 4.4 -- madvise free
try_sim() {
	local opts=()
	while [[ $1 != -- ]]; do
		opts+=("$1")
		shift
	done
	shift
	run --separate-stderr "$SIM" "${opts[@]}" "$TRY" "$@"
}

try_native() {
	run --separate-stderr "$TRY" "$@"
}

# Skips the test unless the host kernel itself gives `expected` for the
# try-advice command: a simulator can only let through what is there.  The
# skip names the feature and the release that added it.
require_host() {
	local expected=$1
	shift
	try_native "$@"
	[[ $output != "$expected" ]] || return 0
	case $1 in
	madvise) skip_host_kernel "MADV_${2^^}" "$(advice_since "$2")" ;;
	process_madvise) skip_host_kernel process_madvise "$(feature_since process_madvise)" ;;
	mremap-dontunmap) skip_host_kernel MREMAP_DONTUNMAP "$(feature_since MREMAP_DONTUNMAP)" ;;
	procmap-query) skip_host_kernel PROCMAP_QUERY "$(feature_since PROCMAP_QUERY)" ;;
	*) skip "host kernel: '$*' gives '$output', not '$expected'" ;;
	esac
}

# The simulator must refuse the arguments with exit 2, print nothing on
# stdout and exactly one line on stderr that starts with "madvise-sim: "
# and names the bad value.
#   assert_usage_error VALUE ARGS...
assert_usage_error() {
	local value=$1
	shift
	run --separate-stderr "$SIM" "$@"
	assert_equal "$status" 2
	assert_equal "$output" ""
	assert_equal "${#stderr_lines[@]}" 1
	[[ $stderr == "madvise-sim: "* ]] ||
		fail "stderr does not start with 'madvise-sim: ': $stderr"
	[[ $stderr == *"$value"* ]] ||
		fail "stderr does not name '$value': $stderr"
}

# ---- the host, for comparison ----------------------------------------------

@test "native: the advice calls work without the simulator" {
	try_native madvise dontneed
	assert_output "ret=0 errno=0"
	try_native fadvise dontneed
	assert_output "ret=0 errno=0"
	try_native dontneed-zeroes
	assert_output "ret=0 errno=0 zeroed=1"
	require_host "ret=$PAGE errno=0" process_madvise cold
}

# ---- no advice syscalls ------------------------------------------------------

@test "default: madvise, process_madvise and fadvise fail with ENOSYS" {
	for advice in dontneed free cold normal; do
		try_sim -- madvise "$advice"
		assert_output "ret=-1 errno=ENOSYS"
	done
	try_sim -- process_madvise cold
	assert_output "ret=-1 errno=ENOSYS"
	# posix_fadvise returns the error number rather than setting errno
	try_sim -- fadvise dontneed
	assert_output "ret=38 errno=ENOSYS"
}

@test "--no-advise-syscalls: madvise, process_madvise and fadvise fail with ENOSYS" {
	try_sim --no-advise-syscalls -- madvise dontneed
	assert_output "ret=-1 errno=ENOSYS"
	try_sim --no-advise-syscalls -- madvise free
	assert_output "ret=-1 errno=ENOSYS"
	try_sim --no-advise-syscalls -- process_madvise cold
	assert_output "ret=-1 errno=ENOSYS"
	try_sim --no-advise-syscalls -- fadvise willneed
	assert_output "ret=38 errno=ENOSYS"
}

@test "--no-advise-syscalls: DONTNEED does not run, so the page keeps its data" {
	try_sim --no-advise-syscalls -- dontneed-zeroes
	assert_output "ret=-1 errno=ENOSYS zeroed=0"
}

@test "--no-advise-syscalls: mremap and ioctl are left alone" {
	require_host "ret=0 errno=0" mremap-dontunmap
	try_sim --no-advise-syscalls -- mremap-dontunmap
	assert_output "ret=0 errno=0"
	require_host "ret=0 errno=0" procmap-query
	try_sim --no-advise-syscalls -- procmap-query
	assert_output "ret=0 errno=0"
}

@test "the simulation is inherited by children of the command" {
	run "$SIM" sh -c '"$1" madvise dontneed' sh "$TRY"
	assert_success
	assert_output "ret=-1 errno=ENOSYS"
}

# ---- --kernel ---------------------------------------------------------------------

@test "--kernel 4.4: advice from later kernels fails with EINVAL" {
	for advice in free wipeonfork cold populate_read guard_install; do
		try_sim --kernel 4.4 -- madvise "$advice"
		assert_output "ret=-1 errno=EINVAL"
	done
}

@test "--kernel 4.4: advice the kernel had still works" {
	for advice in dontneed dontdump normal willneed; do
		try_sim --kernel 4.4 -- madvise "$advice"
		assert_output "ret=0 errno=0"
	done
	try_sim --kernel 4.4 -- dontneed-zeroes
	assert_output "ret=0 errno=0 zeroed=1"
	try_sim --kernel 4.4 -- fadvise dontneed
	assert_output "ret=0 errno=0"
}

@test "--kernel 5.4: COLD works, POPULATE_WRITE fails with EINVAL" {
	require_host "ret=0 errno=0" madvise cold
	try_sim --kernel 5.4 -- madvise cold
	assert_output "ret=0 errno=0"
	try_sim --kernel 5.4 -- madvise populate_write
	assert_output "ret=-1 errno=EINVAL"
}

@test "--kernel: the boundary is the release that introduced the advice" {
	try_sim --kernel 4.4 -- madvise free
	assert_output "ret=-1 errno=EINVAL"
	try_sim --kernel 4.5 -- madvise free
	assert_output "ret=0 errno=0"
	try_sim --kernel 4.13 -- madvise wipeonfork
	assert_output "ret=-1 errno=EINVAL"
	try_sim --kernel 4.14 -- madvise wipeonfork
	assert_output "ret=0 errno=0"
}

@test "--kernel X.Y.Z: patch levels count where the table has one" {
	# MADV_DONTFORK came with 2.6.16
	try_sim --kernel 2.6.15 -- madvise dontfork
	assert_output "ret=-1 errno=EINVAL"
	try_sim --kernel 2.6.16 -- madvise dontfork
	assert_output "ret=0 errno=0"
	# a stable patch level past 255 does not spill into the minor version
	try_sim --kernel 4.4.302 -- madvise free
	assert_output "ret=-1 errno=EINVAL"
	try_sim --kernel 5.4.0 -- madvise cold
	assert_output "ret=0 errno=0"
}

@test "--kernel=X.Y is the same as --kernel X.Y" {
	try_sim --kernel=4.4 -- madvise free
	assert_output "ret=-1 errno=EINVAL"
	try_sim --kernel=4.4 -- madvise dontneed
	assert_output "ret=0 errno=0"
}

@test "--kernel 5.4: process_madvise fails with ENOSYS" {
	try_sim --kernel 5.4 -- process_madvise cold
	assert_output "ret=-1 errno=ENOSYS"
}

@test "--kernel 5.10: process_madvise works and returns the byte count" {
	require_host "ret=$PAGE errno=0" process_madvise cold
	try_sim --kernel 5.10 -- process_madvise cold
	assert_output "ret=$PAGE errno=0"
}

@test "--kernel 5.10: process_madvise gets the same EINVAL for newer advice" {
	try_sim --kernel 5.10 -- process_madvise populate_read
	assert_output "ret=-1 errno=EINVAL"
}

@test "--kernel: mremap with MREMAP_DONTUNMAP fails with EINVAL before 5.7" {
	try_sim --kernel 4.4 -- mremap-dontunmap
	assert_output "ret=-1 errno=EINVAL"
	try_sim --kernel 5.6 -- mremap-dontunmap
	assert_output "ret=-1 errno=EINVAL"
	require_host "ret=0 errno=0" mremap-dontunmap
	try_sim --kernel 5.7 -- mremap-dontunmap
	assert_output "ret=0 errno=0"
	try_sim --kernel 5.10 -- mremap-dontunmap
	assert_output "ret=0 errno=0"
}

@test "--kernel: the PROCMAP_QUERY ioctl fails with ENOTTY before 6.11" {
	try_sim --kernel 6.6 -- procmap-query
	assert_output "ret=-1 errno=ENOTTY"
	try_sim --kernel 6.10 -- procmap-query
	assert_output "ret=-1 errno=ENOTTY"
	require_host "ret=0 errno=0" procmap-query
	try_sim --kernel 6.11 -- procmap-query
	assert_output "ret=0 errno=0"
	try_sim --kernel 6.12 -- procmap-query
	assert_output "ret=0 errno=0"
}

# ---- --deny and --ignore --------------------------------------------------------

@test "--deny free: FREE fails with EINVAL, other advice still works" {
	try_sim --deny free -- madvise free
	assert_output "ret=-1 errno=EINVAL"
	try_sim --deny free -- madvise dontneed
	assert_output "ret=0 errno=0"
	# --deny alone is not --no-advise-syscalls
	try_sim --deny free -- fadvise dontneed
	assert_output "ret=0 errno=0"
}

@test "--deny free,cold:EPERM: both fail with EPERM, in process_madvise too" {
	try_sim --deny free,cold:EPERM -- madvise free
	assert_output "ret=-1 errno=EPERM"
	try_sim --deny free,cold:EPERM -- madvise cold
	assert_output "ret=-1 errno=EPERM"
	try_sim --deny free,cold:EPERM -- process_madvise cold
	assert_output "ret=-1 errno=EPERM"
}

@test "--deny: the errno may be a number or a name in any case" {
	try_sim --deny dontneed:12 -- madvise dontneed
	assert_output "ret=-1 errno=ENOMEM"
	try_sim --deny dontneed:eagain -- madvise dontneed
	assert_output "ret=-1 errno=EAGAIN"
	try_sim --deny=dontneed:EIO -- madvise dontneed
	assert_output "ret=-1 errno=EIO"
}

@test "--deny is repeatable" {
	try_sim --deny free --deny cold:EBUSY -- madvise free
	assert_output "ret=-1 errno=EINVAL"
	try_sim --deny free --deny cold:EBUSY -- madvise cold
	assert_output "ret=-1 errno=EBUSY"
}

@test "--ignore dontneed: DONTNEED returns 0 and leaves the page alone" {
	try_sim --ignore dontneed -- madvise dontneed
	assert_output "ret=0 errno=0"
	try_sim --ignore dontneed -- dontneed-zeroes
	assert_output "ret=0 errno=0 zeroed=0"
	# ...where the real DONTNEED zeroes it
	try_native dontneed-zeroes
	assert_output "ret=0 errno=0 zeroed=1"
}

@test "--ignore leaves process_madvise to the kernel" {
	require_host "ret=$PAGE errno=0" process_madvise cold
	try_sim --ignore cold -- process_madvise cold
	assert_output "ret=$PAGE errno=0"
}

@test "advice names: MADV_ prefix optional, any case" {
	for name in FREE free MADV_FREE madv_free Madv_Free; do
		try_sim --deny "$name:EPERM" -- madvise free
		assert_output "ret=-1 errno=EPERM"
	done
	try_sim --ignore MADV_DontNeed -- dontneed-zeroes
	assert_output "ret=0 errno=0 zeroed=0"
}

@test "options combine and the later one wins for the same advice" {
	try_sim --kernel 4.4 --ignore free -- madvise free
	assert_output "ret=0 errno=0"
	try_sim --ignore free --kernel 4.4 -- madvise free
	assert_output "ret=-1 errno=EINVAL"
	try_sim --deny free --deny free:EPERM -- madvise free
	assert_output "ret=-1 errno=EPERM"
	try_sim --deny free:EPERM --ignore free -- madvise free
	assert_output "ret=0 errno=0"
	try_sim --kernel 4.4 --deny dontneed:EBUSY -- madvise dontneed
	assert_output "ret=-1 errno=EBUSY"
	try_sim --kernel 4.4 --deny dontneed:EBUSY -- madvise cold
	assert_output "ret=-1 errno=EINVAL"
}

# ---- usage errors ------------------------------------------------------------------

@test "usage error: unknown advice name" {
	assert_usage_error "'dontneeed'" --deny dontneeed true
	assert_usage_error "'bogus'" --ignore free,bogus true
	assert_usage_error "'MADV_'" --deny MADV_ true
}

@test "usage error: a bare advice number is refused, saying so" {
	assert_usage_error "'8'" --deny 8 true
	[[ $stderr == *number* ]] || fail "does not say numbers are refused: $stderr"
	assert_usage_error "'4'" --ignore 4 true
}

@test "usage error: bad errno" {
	assert_usage_error "'EFOO'" --deny free:EFOO true
	assert_usage_error "'0'" --deny free:0 true
	assert_usage_error "'4096'" --deny free:4096 true
	assert_usage_error "'-1'" --deny free:-1 true
	assert_usage_error "'free:'" --deny free: true
}

@test "usage error: bad kernel versions" {
	for v in abc 5. 5.x "" 1.2.3.4 5 .5 5..4 5.4. 5.300 300.1 -5.4 " 5.4" 5.4x 0x5.4 99999999999.1; do
		assert_usage_error "'$v'" --kernel "$v" true
	done
	# before madvise existed
	assert_usage_error "'1.2'" --kernel 1.2 true
}

@test "usage error: --kernel given twice" {
	assert_usage_error "--kernel" --kernel 4.4 --kernel 5.4 true
}

@test "usage error: --no-advise-syscalls with --kernel, --deny or --ignore" {
	assert_usage_error "--kernel" --no-advise-syscalls --kernel 5.4 true
	assert_usage_error "--deny" --deny free --no-advise-syscalls true
	assert_usage_error "--ignore" --no-advise-syscalls --ignore free true
}

@test "usage error: unknown option" {
	assert_usage_error "'--frobnicate'" --frobnicate true
	assert_usage_error "'-x'" -x true
	# no abbreviations
	assert_usage_error "'--kern'" --kern 5.4 true
}

@test "usage error: option without its value" {
	assert_usage_error "--kernel" --kernel
	assert_usage_error "--version" --version=2 true
}

@test "usage error: missing command" {
	assert_usage_error "command" --kernel 5.4
	assert_usage_error "command"
	assert_usage_error "command" --deny free --
}

# ---- running the command ------------------------------------------------------------

@test "command not found: exit 127 and one line naming it" {
	run -127 --separate-stderr "$SIM" no-such-command-madvise-sim
	assert_equal "$status" 127
	assert_equal "${#stderr_lines[@]}" 1
	assert_equal "$stderr" \
		"madvise-sim: cannot run 'no-such-command-madvise-sim': No such file or directory"
}

@test "command not executable: exit 126" {
	local f=$BATS_TEST_TMPDIR/not-executable
	echo 'echo hi' >"$f"
	chmod 644 "$f"
	run --separate-stderr "$SIM" "$f"
	assert_equal "$status" 126
	[[ $stderr == "madvise-sim: cannot run '$f': "* ]] || fail "stderr: $stderr"
}

@test "the command's exit status passes through" {
	run "$SIM" sh -c 'exit 7'
	assert_equal "$status" 7
	run "$SIM" --kernel 5.4 sh -c 'exit 0'
	assert_equal "$status" 0
	run "$SIM" --deny free false
	assert_equal "$status" 1
}

@test "--: ends the options, so COMMAND may look like an option" {
	local dir=$BATS_TEST_TMPDIR/bin
	mkdir -p "$dir"
	printf '#!/bin/sh\necho "ran $0 $*"\n' >"$dir/--kernel"
	chmod 755 "$dir/--kernel"
	PATH=$dir:$PATH run "$SIM" -- --kernel 4.4
	assert_success
	assert_output "ran $dir/--kernel 4.4"
	# options before -- still count
	run "$SIM" --kernel 4.4 -- "$TRY" madvise free
	assert_output "ret=-1 errno=EINVAL"
}

@test "the first non-option starts COMMAND; later arguments are its own" {
	run "$SIM" sh -c 'echo "$@"' sh --kernel 4.4 --help
	assert_success
	assert_output "--kernel 4.4 --help"
}

@test "the command runs with no_new_privs set" {
	run "$SIM" grep NoNewPrivs /proc/self/status
	assert_success
	assert_output --regexp '^NoNewPrivs:[[:space:]]+1$'
	run "$SIM" --kernel 5.4 grep NoNewPrivs /proc/self/status
	assert_output --regexp '^NoNewPrivs:[[:space:]]+1$'
}

@test "a 32-bit x86 program is simulated, not killed" {
	[[ $(uname -m) == x86_64 ]] || skip_host "not an x86_64 host"
	# Freestanding, so that no 32-bit libc (gcc-multilib) is needed.
	local src=$BATS_TEST_TMPDIR/m32.c bin=$BATS_TEST_TMPDIR/m32
	cat >"$src" <<-'EOF'
	/* i386 madvise(page, 4096, MADV_DONTNEED); exit 0 on success, 38 on
	 * ENOSYS, 1 otherwise.  i386 numbers: madvise 219, exit 1. */
	static char page[4096] __attribute__((aligned(4096)));
	static long sys3(long nr, long a, long b, long c)
	{
		long ret;
		__asm__ volatile ("int $0x80" : "=a"(ret)
				  : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
		return ret;
	}
	void _start(void)
	{
		long r = sys3(219, (long)page, sizeof page, 4);
		sys3(1, r == 0 ? 0 : r == -38 ? 38 : 1, 0, 0);
		for (;;)
			;
	}
	EOF
	${CC:-cc} -m32 -nostdlib -static -ffreestanding -fno-pie -no-pie -O1 \
		-o "$bin" "$src" 2>/dev/null || skip_missing "a 32-bit x86 C library" gcc-multilib
	run "$bin"
	[[ $status -eq 0 ]] || skip_host "this kernel does not run 32-bit x86 programs (CONFIG_IA32_EMULATION)"
	run "$SIM" "$bin"
	# 38 is ENOSYS from the filter; 159 would be SIGSYS (killed)
	assert_equal "$status" 38
	run "$SIM" --kernel 5.4 "$bin"
	assert_equal "$status" 0
}

# ---- --help and --version ---------------------------------------------------------------

@test "--help: usage, options and every advice name in the table; exit 0" {
	run --separate-stderr "$SIM" --help
	assert_success
	assert_equal "$stderr" ""
	assert_line --index 0 --partial "Usage: madvise-sim"
	for opt in --kernel --deny --ignore --no-advise-syscalls --version 125 126 127; do
		assert_output --partial -- "$opt"
	done
	local names
	names=$(sed -nE 's/^[[:space:]]*X\(([A-Z_]+),.*/\1/p' \
		"${SOURCE_ROOT:?}/shim/advice_table.h")
	[[ -n $names ]] || fail "no names found in advice_table.h"
	for name in $names; do
		assert_line --regexp "^ +MADV_$name +[0-9]+ +[0-9.]+ +[a-z]+$"
	done
	run "$SIM" -h
	assert_success
	assert_line --index 0 --partial "Usage: madvise-sim"
}

@test "--help: FREE is listed with its value and version" {
	run "$SIM" --help
	assert_line --regexp "^ +MADV_FREE +[0-9]+ +4\.5 +destructive$"
	assert_line --regexp "^ +MADV_REMOVE +[0-9]+ +2\.6\.16 +file$"
}

@test "--version: the project version" {
	local version
	version=$(sed -nE "s/^[[:space:]]*version: '([^']+)'.*/\1/p" \
		"${SOURCE_ROOT:?}/meson.build" | head -n1)
	run --separate-stderr "$SIM" --version
	assert_success
	assert_output "madvise-sim $version"
}
