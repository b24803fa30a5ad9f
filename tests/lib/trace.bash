# Reading the shim's trace log (MADVISE_SHIM_LOG) in tests.  Load with
# "load lib/trace".

# trace_lines LOG: how many trace lines LOG holds (0 if it does not exist).
trace_lines() {
	local n
	n=$(grep -c '^madvise-shim ' "$1" 2>/dev/null) || n=0
	echo "$n"
}

# assert_all_emulated LOG COUNT: LOG holds exactly COUNT trace lines (or,
# written N+, at least N), and
# every call in it was emulated without asking the kernel, as
# MADVISE_SHIM_MODE=emulate promises; only advice values the shim does not
# know go to the kernel, for its own EINVAL.  A test of emulate mode needs
# this: on a kernel that has the advice, the results alone are the same when
# the mode is ignored and every call reaches the kernel.
assert_all_emulated() {
	local log=$1 count=${2%+} n bad
	n=$(trace_lines "$log")
	if (( count < 1 )) || { [[ $2 == *+ ]] && (( n < count )); } || { [[ $2 != *+ ]] && (( n != count )); }; then
		echo "expected $2 trace lines in $log (at least 1), found $n" >&2
		return 1
	fi
	bad=$(grep '^madvise-shim ' "$log" |
		grep -vE ' kernel=not-asked\(emulate mode\) action=emulated:| advice=unknown\(-?[0-9]+\) .* kernel=EINVAL action=native ') || true
	if [[ -n $bad ]]; then
		printf 'calls not emulated in emulate mode:\n%s\n' "$(head -5 <<<"$bad")" >&2
		return 1
	fi
}
