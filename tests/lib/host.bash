# host.bash: what the host kernel has, for the tests whose oracle is the host
# kernel itself, and the one way tests name why they skip.
#
# Skip reasons begin with a class that scripts/run.sh reads (and counts):
#   host kernel: ...  the kernel under the tests lacks a feature; the reason
#                     names it and the Linux release that added it
#   host: ...         the machine's configuration or privileges (no huge
#                     pages, not root, no 32-bit support)
#   selected: ...     a selection the user made (FUZZ_VARIANTS,
#                     DIFFERENTIAL_FILTER)
#   missing: ...      a tool or package scripts/run.sh installs; under
#                     CI=true such a skip fails the run, as does a skip of no
#                     class
# Every feature is probed (try-advice makes the call), never read off the
# version string: a distribution kernel may carry a backport, and
# madvise-sim --kernel X.Y takes features away without changing uname.

# skip_host_kernel FEATURE SINCE
skip_host_kernel() {
	skip "host kernel: no $1 (Linux $2)"
}

# skip_host WHY
skip_host() {
	skip "host: $1"
}

# skip_missing WHAT [PACKAGE]: WHAT is not installed.
skip_missing() {
	skip "missing: $1 is not installed${2:+ (Debian package $2; scripts/run.sh installs it)}"
}

# advice_since NAME: the release that added MADV_NAME, from the advice table.
advice_since() {
	local name=${1#MADV_}
	"$TEST_PROGS_DIR/advice-table-dump" |
		awk -F'\t' -v n="MADV_${name^^}" '$1 == n { print $3; found = 1 } END { exit !found }'
}

# host_has_advice NAME: the host kernel knows MADV_NAME.  A zero-length call
# is checked for the advice value before anything else (mm/madvise.c), so
# it answers 0 for every known value whatever the mapping, EINVAL otherwise.
host_has_advice() {
	[[ $("$TEST_PROGS_DIR/try-advice" madvise "$1" --len 0) == 'ret=0 errno=0' ]]
}

# need_advice NAME...: skips unless the host kernel knows every MADV_NAME.
need_advice() {
	local name
	for name; do
		host_has_advice "$name" ||
			skip_host_kernel "MADV_${name^^}" "$(advice_since "$name")"
	done
}

# The other kernel features tests depend on, each with its probe: a
# try-advice command, which prints "... errno=0" where the feature is there.
# The release that added each comes from advice_table.h's KV_ constants
# (feature_since).
declare -gA HOST_FEATURE_PROBE=(
	[process_madvise]='process_madvise cold'
	[MREMAP_DONTUNMAP]='mremap-dontunmap'
	[PROCMAP_QUERY]='procmap-query'
	[mseal]='mseal'
)

# feature_since FEATURE: the release that added FEATURE.
feature_since() {
	"$TEST_PROGS_DIR/advice-table-dump" --facts |
		awk -F'\t' -v n="$1" '$1 == n { print $2; found = 1 } END { exit !found }'
}

# host_has FEATURE: the host kernel has FEATURE (a key of the tables above).
host_has() {
	local probe=${HOST_FEATURE_PROBE[$1]:?unknown host feature $1}
	# shellcheck disable=SC2086 # the probe is a command and its arguments
	[[ $("$TEST_PROGS_DIR/try-advice" $probe) == *' errno=0' ]]
}

# need_feature FEATURE...: skips unless the host kernel has every FEATURE.
need_feature() {
	local f
	for f; do
		host_has "$f" || skip_host_kernel "$f" "$(feature_since "$f")"
	done
}

# find_host_lacking: probes, once per test (or setup_file), which advice the
# host kernel lacks, and sets
#   HOST_LACKING        those advice values as the tests' records spell them
#                       (dontneed-locked, populate-read, ...), one word each
#   HOST_LACKING_SINCE  the releases that added them, in the same order
#   HOST_LACKING_REGEX  an extended regex matching a record that names one
#                       of them at the end of a word (private-dontneed-locked
#                       too); empty when the host lacks none
# HWPOISON and SOFT_OFFLINE are left out: the shim never emulates them.
# Call it directly, not in $(...), so that the variables stay set.
# shellcheck disable=SC2034 # the variables are for the callers
find_host_lacking() {
	[[ -z ${HOST_LACKING_FOUND:-} ]] || return 0
	local name since token
	HOST_LACKING_FOUND=1 HOST_LACKING=() HOST_LACKING_SINCE=() HOST_LACKING_REGEX=
	while IFS=$'\t' read -r name _ since _; do
		name=${name#MADV_}
		case $name in HWPOISON | SOFT_OFFLINE) continue ;; esac
		host_has_advice "$name" && continue
		token=${name,,}
		HOST_LACKING+=("${token//_/-}")
		HOST_LACKING_SINCE+=("$since")
	done < <("$TEST_PROGS_DIR/advice-table-dump")
	if (( ${#HOST_LACKING[@]} )); then
		local IFS='|'
		HOST_LACKING_REGEX="(^|[^a-z])(${HOST_LACKING[*]})([^a-z-]|\$)"
	fi
}

# oracle_lacks RECORD: RECORD, the native kernel's, names advice the host
# kernel lacks (find_host_lacking), so it is no oracle; says so on stdout.
oracle_lacks() {
	find_host_lacking
	[[ -n $HOST_LACKING_REGEX && $1 =~ $HOST_LACKING_REGEX ]] || return 1
	echo "host kernel: the native oracle lacks this advice: $1"
}
