#!/usr/bin/env bats
# A real program that needs madvise: Node.js.  V8 checks the result of the
# madvise it uses to give pages back (OS::SetPermissions -> DiscardSystemPages)
# and aborts with "Check failed" (int3, so SIGTRAP: exit status 133) when it
# fails.  Without the advise syscalls node dies that way; with the shim it
# runs to the end.

# Allocates and drops 200 arrays of 100k elements; prints 19900.
JS='let s = 0;
for (let i = 0; i < 200; i++) {
	const a = new Array(100000).fill(i);
	s += a[99999];
}
console.log(s);'

setup_file() {
	if command -v node >/dev/null; then
		return 0
	fi
	if [[ $(id -u) -ne 0 ]]; then
		# skip is not honoured in setup_file by every bats: setup() does it.
		export NODE_SKIP_REASON="missing: node is not on PATH, and installing Debian's nodejs needs root"
		return 0
	fi
	local log="$BATS_FILE_TMPDIR/apt.log"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs >"$log" 2>&1; then
		# The package lists may never have been fetched on this machine.
		DEBIAN_FRONTEND=noninteractive apt-get update >>"$log" 2>&1
		if ! DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs >>"$log" 2>&1; then
			echo "apt-get install nodejs failed:" >&2
			tail -n 20 "$log" >&2
			return 1
		fi
	fi
	command -v node >/dev/null || { echo "nodejs installed but no node on PATH" >&2; return 1; }
}

setup() {
	if [[ -n ${NODE_SKIP_REASON:-} ]]; then
		skip "$NODE_SKIP_REASON"
	fi
	bats_load_library bats-support
	bats_load_library bats-assert
}

@test "node runs the script on the native kernel" {
	run node -e "$JS"
	assert_success
	assert_output "19900"
}

@test "node aborts in V8's Check failed (exit 133) when madvise is ENOSYS" {
	run "$MADVISE_SIM" -- node -e "$JS"
	assert_equal "$status" 133
	assert_output --partial "Check failed"
	refute_line "19900"
}

@test "node finishes under the ENOSYS simulator with the madvise-shim wrapper" {
	run "$MADVISE_SIM" -- "$MADVISE_SHIM_CMD" -- node -e "$JS"
	assert_success
	assert_line "19900"
	refute_output --partial "Check failed"
}

@test "node finishes under the 4.4 simulator with the madvise-shim wrapper" {
	run "$MADVISE_SIM" --kernel 4.4 -- "$MADVISE_SHIM_CMD" -- node -e "$JS"
	assert_success
	assert_line "19900"
}
