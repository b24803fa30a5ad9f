#!/usr/bin/env bats
# Tests for tools/madvise-probe.
#
# The probe is run natively and under madvise-sim.  Under the simulator its
# answers must be exactly what the simulator takes away: the expected answer
# of every row is computed from the probe's own 'since' column (which comes
# from advice_table.h, as the simulator's does) and the native answer.
#
# Environment (from tests/meson.build): BUILD_ROOT, MADVISE_SIM, SOURCE_ROOT,
# MADVISE_SHIM_LIB.

# shellcheck disable=SC2154 # run --separate-stderr sets $stderr and $stderr_lines
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
load lib/host

POISON="not probed (would poison memory)"

setup() {
	unset LD_PRELOAD MADVISE_SHIM_MODE
	PROBE=${BUILD_ROOT:?BUILD_ROOT is not set}/tools/madvise-probe
	SIM=${MADVISE_SIM:?MADVISE_SIM is not set}
	[ -x "$PROBE" ] || fail "$PROBE is not built"
}

# "NAME|VALUE|SINCE|KERNEL|SHIM" per row of `madvise-probe --json` on stdin
# (VALUE is "-" for posix_fadvise and process_madvise), then
# "fact|KEY|VALUE" per fact.  Python is always there: meson runs on it.  It
# fails on JSON that does not parse.
json_rows() {
	python3 -c '
import json, sys
d = json.load(sys.stdin)
for a in d["advice"]:
    print("|".join([a["name"], str(a["value"]), a["since"], a["kernel"], a["shim"]]))
for call in ("posix_fadvise", "process_madvise"):
    c = d[call]
    print("|".join([call, "-", c["since"], c["kernel"], c["shim"]]))
for key, value in d["facts"].items():
    print("|".join(["fact", key, value]))
print("|".join(["fact", "release", d["kernel"]]))
'
}

# The same from the human table on stdin: columns are at least two blanks
# apart, and no cell holds two blanks in a row.  The facts under the table
# are "LABEL  VALUE" lines, named here by their JSON keys; the release comes
# from the header.
table_rows() {
	awk -F '  +' '
		BEGIN {
			key["mremap MREMAP_DONTUNMAP"] = "mremap_dontunmap"
			key["PROCMAP_QUERY ioctl"] = "procmap_query"
			key["transparent huge pages"] = "thp"
			key["KSM"] = "ksm"
			key["seccomp"] = "seccomp"
		}
		NR == 1 && match($0, /^madvise on Linux [^ ]+ /) {
			release = substr($0, 18, RLENGTH - 18)
		}
		/^(MADV_|posix_fadvise|process_madvise)/ {
			print $1 "|" $2 "|" $3 "|" $4 "|" $5
		}
		$1 in key { print "fact|" key[$1] "|" $2 }
		END { print "fact|release|" release }
	'
}

# probe [SIMULATOR OPTIONS...]: runs madvise-probe, under madvise-sim with
# those options if any are given, and fills NAMES (in table order), SINCE,
# KERNEL, SHIM and FACT from its table.  Fails unless the exit status is 0.
# (The table rather than --json, which is checked against it below: python
# starts slowly on some machines, and this runs many times.)
probe() {
	local cmd=("$PROBE") table rc=0 name value since kernel shim
	(($# == 0)) || cmd=("$SIM" "$@" -- "${cmd[@]}")
	table=$("${cmd[@]}") || rc=$?
	[[ $rc == 0 ]] || fail "'${cmd[*]}' exited with $rc"
	NAMES=()
	declare -gA SINCE=() KERNEL=() SHIM=() FACT=()
	while IFS='|' read -r name value since kernel shim; do
		if [[ $name == fact ]]; then
			FACT[$value]=$since
			continue
		fi
		NAMES+=("$name")
		SINCE[$name]=$since
		KERNEL[$name]=$kernel
		SHIM[$name]=$shim
	done < <(table_rows <<<"$table")
	((${#NAMES[@]} > 20)) || fail "only ${#NAMES[@]} rows from '${cmd[*]}': $table"
	((${#FACT[@]} == 6)) || fail "${#FACT[@]} facts, not 6, from '${cmd[*]}': $table"
}

# Saves the native answers as NATIVE_KERNEL and NATIVE_FACT.
probe_native() {
	probe
	declare -gA NATIVE_KERNEL=() NATIVE_FACT=()
	local k
	for k in "${!KERNEL[@]}"; do NATIVE_KERNEL[$k]=${KERNEL[$k]}; done
	for k in "${!FACT[@]}"; do NATIVE_FACT[$k]=${FACT[$k]}; done
}

is_advice() { [[ $1 == MADV_* ]]; }
never_probed() { [[ $1 == MADV_HWPOISON || $1 == MADV_SOFT_OFFLINE ]]; }

# version_gt A B: A is a later release than B (2.6.16 > 2.6.9), for
# versions of up to three numbers.
version_gt() {
	local IFS=.
	local -a a b
	read -ra a <<<"$1"
	read -ra b <<<"$2"
	(((a[0] << 16) + (a[1] << 8) + ${a[2]:-0} > (b[0] << 16) + (b[1] << 8) + ${b[2]:-0}))
}

# Collects "NAME: got X, expected Y" lines in MISMATCHES.
expect() {  # expect NAME GOT EXPECTED
	[[ $2 == "$3" ]] || MISMATCHES+="$1: got '$2', expected '$3'"$'\n'
}

# Checks the answers of the last `probe` against a simulated kernel X.Y:
# advice newer than it EINVAL, the rest as natively; the other calls and
# facts by the versions the simulator documents.
check_kernel() {  # check_kernel X.Y
	local k=$1 name
	MISMATCHES=
	for name in "${NAMES[@]}"; do
		if never_probed "$name"; then
			expect "$name" "${KERNEL[$name]}" "$POISON"
		elif is_advice "$name" && version_gt "${SINCE[$name]}" "$k"; then
			expect "$name" "${KERNEL[$name]}" EINVAL
		elif [[ $name == process_madvise ]] && version_gt 5.10 "$k"; then
			expect "$name" "${KERNEL[$name]}" ENOSYS
		else
			expect "$name" "${KERNEL[$name]}" "${NATIVE_KERNEL[$name]}"
		fi
	done
	if version_gt 5.7 "$k"; then
		expect mremap_dontunmap "${FACT[mremap_dontunmap]}" EINVAL
	else
		expect mremap_dontunmap "${FACT[mremap_dontunmap]}" "${NATIVE_FACT[mremap_dontunmap]}"
	fi
	if version_gt 6.11 "$k"; then
		expect procmap_query "${FACT[procmap_query]}" ENOTTY
	else
		expect procmap_query "${FACT[procmap_query]}" "${NATIVE_FACT[procmap_query]}"
	fi
	[[ -z $MISMATCHES ]] || fail "under --kernel $k:"$'\n'"$MISMATCHES"
}

# ---- natively -----------------------------------------------------------------

@test "natively, every advice value but HWPOISON and SOFT_OFFLINE is supported" {
	local name
	probe
	MISMATCHES=
	for name in "${NAMES[@]}"; do
		is_advice "$name" || continue
		if never_probed "$name"; then
			expect "$name" "${KERNEL[$name]}" "$POISON"
			expect "$name (shim)" "${SHIM[$name]}" "passed through"
			continue
		fi
		# what this host does not have is not asked of it: try-advice asks
		# the kernel (the release string says nothing under madvise-sim)
		host_has_advice "${name#MADV_}" || continue
		case $name in
		MADV_HUGEPAGE | MADV_NOHUGEPAGE | MADV_COLLAPSE)
			[[ -d /sys/kernel/mm/transparent_hugepage ]] || continue ;;
		MADV_MERGEABLE | MADV_UNMERGEABLE)
			[[ -d /sys/kernel/mm/ksm ]] || continue ;;
		esac
		expect "$name" "${KERNEL[$name]}" supported
		expect "$name (shim)" "${SHIM[$name]}" "native (pass-through)"
	done
	[[ -z $MISMATCHES ]] || fail "$MISMATCHES"
}

@test "natively, posix_fadvise, process_madvise and the facts are the host's" {
	probe
	assert_equal "${KERNEL[posix_fadvise]}" supported
	assert_equal "${SHIM[posix_fadvise]}" "native (pass-through)"
	assert_equal "${FACT[release]}" "$(uname -r)"
	if [[ -d /sys/kernel/mm/transparent_hugepage ]]; then
		assert_equal "${FACT[thp]}" present
	else
		assert_equal "${FACT[thp]}" absent
	fi
	if [[ -d /sys/kernel/mm/ksm ]]; then
		assert_equal "${FACT[ksm]}" present
	else
		assert_equal "${FACT[ksm]}" absent
	fi
	if host_has process_madvise; then
		assert_equal "${KERNEL[process_madvise]}" supported
	else
		assert_equal "${KERNEL[process_madvise]}" ENOSYS
	fi
	if host_has MREMAP_DONTUNMAP; then
		assert_equal "${FACT[mremap_dontunmap]}" supported
	else
		assert_equal "${FACT[mremap_dontunmap]}" EINVAL
	fi
	if host_has PROCMAP_QUERY; then
		assert_equal "${FACT[procmap_query]}" supported
	else
		assert_equal "${FACT[procmap_query]}" ENOTTY
	fi
}

@test "the header names the kernel release, and the exit status is 0" {
	run --separate-stderr "$PROBE"
	assert_success
	assert_equal "$stderr" ""
	[[ ${lines[0]} == *"Linux $(uname -r) "* ]] || fail "header: ${lines[0]}"
	assert_line --regexp '^ADVICE +VALUE +SINCE +KERNEL +SHIM$'
}

@test "the advice rows are the simulator's: same names, values and releases" {
	local sim_rows probe_rows
	# madvise-sim --help lists "  MADV_NAME  VALUE  SINCE  CLASS"
	sim_rows=$("$SIM" --help | awk '/^  MADV_/ { print $1 "|" $2 "|" $3 }')
	run --separate-stderr "$PROBE"
	assert_success
	probe_rows=$(table_rows <<<"$output" | awk -F '|' '/^MADV_/ { print $1 "|" $2 "|" $3 }')
	[[ -n $sim_rows ]] || fail "no advice table in madvise-sim --help"
	assert_equal "$probe_rows" "$sim_rows"
}

# ---- under madvise-sim ----------------------------------------------------------

@test "without the advise syscalls, every probed row is ENOSYS" {
	local name
	probe_native
	probe --no-advise-syscalls
	MISMATCHES=
	for name in "${NAMES[@]}"; do
		if never_probed "$name"; then
			expect "$name" "${KERNEL[$name]}" "$POISON"
			expect "$name (shim)" "${SHIM[$name]}" "passed through"
		else
			expect "$name" "${KERNEL[$name]}" ENOSYS
		fi
	done
	# nothing else is taken away
	expect mremap_dontunmap "${FACT[mremap_dontunmap]}" "${NATIVE_FACT[mremap_dontunmap]}"
	expect procmap_query "${FACT[procmap_query]}" "${NATIVE_FACT[procmap_query]}"
	expect seccomp "${FACT[seccomp]}" filter
	[[ -z $MISMATCHES ]] || fail "$MISMATCHES"
}

@test "without the advise syscalls, the shim column says how each is emulated" {
	local emptied="emulated: pages emptied (mremap DONTUNMAP)"
	probe --no-advise-syscalls
	[[ ${FACT[mremap_dontunmap]} == supported ]] || emptied="emulated: pages emptied (remap)"
	assert_equal "${SHIM[MADV_NORMAL]}" "emulated: success without effect"
	assert_equal "${SHIM[MADV_DONTNEED]}" "$emptied"
	# no kernel DONTNEED to lean on
	assert_equal "${SHIM[MADV_FREE]}" "$emptied"
	assert_equal "${SHIM[MADV_DONTNEED_LOCKED]}" "$emptied"
	assert_equal "${SHIM[MADV_REMOVE]}" "emulated: hole punched in the backing file"
	assert_equal "${SHIM[MADV_DONTDUMP]}" "emulated: process made non-dumpable"
	assert_equal "${SHIM[MADV_WIPEONFORK]}" "emulated: fork handler"
	assert_equal "${SHIM[MADV_POPULATE_WRITE]}" "emulated: pages touched"
	assert_equal "${SHIM[MADV_GUARD_INSTALL]}" "emulated: PROT_NONE guard"
	assert_equal "${SHIM[MADV_COLLAPSE]}" "kernel's error (not emulated)"
	if [[ -d /sys/kernel/mm/transparent_hugepage ]]; then
		assert_equal "${SHIM[MADV_HUGEPAGE]}" "emulated: success without effect"
	else
		assert_equal "${SHIM[MADV_HUGEPAGE]}" "EINVAL (no /sys/kernel/mm/transparent_hugepage)"
	fi
	if [[ -d /sys/kernel/mm/ksm ]]; then
		assert_equal "${SHIM[MADV_MERGEABLE]}" "emulated: success without effect"
	else
		assert_equal "${SHIM[MADV_MERGEABLE]}" "EINVAL (no /sys/kernel/mm/ksm)"
	fi
	assert_equal "${SHIM[posix_fadvise]}" "emulated: hints succeed, WILLNEED → readahead"
	assert_equal "${SHIM[process_madvise]}" "emulated for the own process"
}

@test "--kernel 4.4: exactly the advice newer than 4.4 is EINVAL" {
	probe_native
	probe --kernel 4.4
	check_kernel 4.4
	# spelled out as well, so that the rule above cannot hide a slip
	assert_equal "${KERNEL[MADV_FREE]}" EINVAL
	assert_equal "${KERNEL[MADV_DONTDUMP]}" "${NATIVE_KERNEL[MADV_DONTDUMP]}"
	assert_equal "${KERNEL[process_madvise]}" ENOSYS
	assert_equal "${FACT[mremap_dontunmap]}" EINVAL
	assert_equal "${FACT[procmap_query]}" ENOTTY
	# FREE and DONTNEED_LOCKED lean on the kernel's DONTNEED where it works
	if [[ ${KERNEL[MADV_DONTNEED]} == supported ]]; then
		assert_equal "${SHIM[MADV_FREE]}" "emulated: kernel DONTNEED"
		assert_equal "${SHIM[MADV_DONTNEED_LOCKED]}" "emulated: kernel DONTNEED"
	fi
	assert_equal "${SHIM[MADV_COLLAPSE]}" "kernel's error (not emulated)"
	assert_equal "${SHIM[MADV_GUARD_REMOVE]}" "emulated: PROT_NONE guard"
	assert_equal "${SHIM[process_madvise]}" "emulated for the own process"
}

@test "--kernel 5.10: exactly the advice newer than 5.10 is EINVAL" {
	probe_native
	probe --kernel 5.10
	check_kernel 5.10
	assert_equal "${KERNEL[MADV_COLD]}" "${NATIVE_KERNEL[MADV_COLD]}"
	assert_equal "${KERNEL[MADV_POPULATE_READ]}" EINVAL
	assert_equal "${KERNEL[process_madvise]}" "${NATIVE_KERNEL[process_madvise]}"
	assert_equal "${FACT[mremap_dontunmap]}" "${NATIVE_FACT[mremap_dontunmap]}"
	assert_equal "${FACT[procmap_query]}" ENOTTY
}

@test "--kernel at every release in the table agrees with the simulator" {
	local k
	probe_native
	# each release that introduced something: that advice is then present,
	# and everything later is missing
	for k in $(printf '%s\n' "${SINCE[@]}" 5.7 5.10 6.11 | sort -uV); do
		probe --kernel "$k"
		check_kernel "$k"
	done
}

@test "--ignore dontneed: DONTNEED is fake-success and the shim empties pages itself" {
	probe_native
	probe --ignore dontneed
	assert_equal "${KERNEL[MADV_DONTNEED]}" fake-success
	[[ ${SHIM[MADV_DONTNEED]} == "emulated: pages emptied ("*")" ]] ||
		fail "shim: ${SHIM[MADV_DONTNEED]}"
	# the others are untouched
	assert_equal "${KERNEL[MADV_FREE]}" "${NATIVE_KERNEL[MADV_FREE]}"
	assert_equal "${KERNEL[MADV_DONTNEED_LOCKED]}" "${NATIVE_KERNEL[MADV_DONTNEED_LOCKED]}"
}

@test "--ignore: DONTNEED_LOCKED and REMOVE are read back, FREE is not" {
	probe --ignore dontneed_locked,remove,free
	assert_equal "${KERNEL[MADV_DONTNEED_LOCKED]}" fake-success
	assert_equal "${KERNEL[MADV_REMOVE]}" fake-success
	# MADV_FREE may leave the page as it was
	assert_equal "${KERNEL[MADV_FREE]}" supported
	# the shim reads them back too, and emulates
	assert_equal "${SHIM[MADV_REMOVE]}" "emulated: hole punched in the backing file"
}

@test "--deny with another errno: the row names it and the shim passes it on" {
	probe --deny cold:EPERM
	assert_equal "${KERNEL[MADV_COLD]}" EPERM
	assert_equal "${SHIM[MADV_COLD]}" "pass-through (the kernel's EPERM)"
	# the simulator denies process_madvise with that advice too
	assert_equal "${KERNEL[process_madvise]}" EPERM
}

# ---- output ------------------------------------------------------------------

@test "--json has the same rows and facts as the table" {
	local opts cmd table json
	for opts in "" "--kernel 4.4" "--no-advise-syscalls" "--ignore dontneed"; do
		cmd=("$PROBE")
		# shellcheck disable=SC2206 # split on purpose
		[[ -z $opts ]] || cmd=("$SIM" $opts -- "$PROBE")
		run --separate-stderr "${cmd[@]}"
		assert_success
		table=$(table_rows <<<"$output")
		run --separate-stderr "${cmd[@]}" --json
		assert_success
		json=$(json_rows <<<"$output") || fail "under '$opts', invalid JSON: $output"
		# same order too, facts aside
		assert_equal "$(grep -v '^fact|' <<<"$table")" "$(grep -v '^fact|' <<<"$json")"
		assert_equal "$(grep '^fact|' <<<"$table" | sort)" "$(grep '^fact|' <<<"$json" | sort)"
	done
}

@test "with the shim preloaded, one warning line says the answers are the shim's" {
	[ -f "${MADVISE_SHIM_LIB:-}" ] || skip "MADVISE_SHIM_LIB is not set"
	LD_PRELOAD=$MADVISE_SHIM_LIB run --separate-stderr "$PROBE"
	assert_success
	assert_equal "${#stderr_lines[@]}" 1
	[[ $stderr == "madvise-probe: warning: "*libmadvise-shim* ]] || fail "stderr: $stderr"
}

# ---- options ------------------------------------------------------------------

@test "an unknown option exits with 2 and one line naming it" {
	run --separate-stderr "$PROBE" --x
	assert_equal "$status" 2
	assert_equal "$output" ""
	assert_equal "$stderr" "madvise-probe: unknown option '--x' (accepted: --json, --help, --version)"
	run --separate-stderr "$PROBE" --json=yes
	assert_equal "$status" 2
	assert_equal "$output" ""
	assert_equal "${#stderr_lines[@]}" 1
	[[ $stderr == *"'--json=yes'"* ]] || fail "stderr: $stderr"
}

@test "an argument exits with 2 and one line" {
	run --separate-stderr "$PROBE" now
	assert_equal "$status" 2
	assert_equal "$output" ""
	assert_equal "${#stderr_lines[@]}" 1
	[[ $stderr == "madvise-probe: "*"'now'"* ]] || fail "stderr: $stderr"
}

@test "--help explains the columns and the answers" {
	run --separate-stderr "$PROBE" --help
	assert_success
	assert_equal "$stderr" ""
	assert_line --index 0 "Usage: madvise-probe [--json]"
	local word
	for word in ADVICE VALUE SINCE KERNEL SHIM supported EINVAL ENOSYS fake-success \
		"not probed" --json --version; do
		[[ $output == *"$word"* ]] || fail "--help does not mention '$word'"
	done
}

@test "--version prints the project's version" {
	local version
	version=$(sed -n "s/^  version: '\([^']*\)',\$/\1/p" "$SOURCE_ROOT/meson.build")
	[[ -n $version ]] || fail "no version in meson.build"
	run --separate-stderr "$PROBE" --version
	assert_success
	assert_output "madvise-probe $version"
}
