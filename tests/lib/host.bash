# host.bash: what the host kernel has, for the tests whose oracle is the host
# kernel itself, and the one way tests name why they skip.
#
# Skip reasons begin with a class that scripts/run.sh reads (and counts):
#   host kernel: ...  the kernel under the tests lacks a feature; the reason
#                     names it and the Linux release that added it
#   host: ...         the machine's configuration or privileges (no huge
#                     pages, not root, no 32-bit support)
#   missing: ...      a tool or package scripts/run.sh installs; under
#                     CI=true such a skip fails the run
# Every feature is probed (try-advice makes the call), never read off the
# version string: a distribution kernel may carry a backport, and
# madvise-sim --kernel X.Y takes features away without changing uname.

# skip_host_kernel FEATURE SINCE [DETAIL]
skip_host_kernel() {
	skip "host kernel: no $1 (Linux $2)${3:+: $3}"
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
			skip_host_kernel "MADV_${name^^}" "$(advice_since "$name")" "${NEED_WHY:-}"
	done
}

# The other kernel features tests depend on: probe (a try-advice command and
# the answer that means "there"), and the release that added it (these
# mirror the KV_ constants of shim/advice_table.h).
declare -gA HOST_FEATURE_PROBE=(
	[process_madvise]='process_madvise cold'
	[MREMAP_DONTUNMAP]='mremap-dontunmap'
	[PROCMAP_QUERY]='procmap-query'
	[mseal]='mseal'
)
declare -gA HOST_FEATURE_SINCE=(
	[process_madvise]=5.10
	[MREMAP_DONTUNMAP]=5.7
	[PROCMAP_QUERY]=6.11
	[mseal]=6.10
)

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
		host_has "$f" || skip_host_kernel "$f" "${HOST_FEATURE_SINCE[$f]}" "${NEED_WHY:-}"
	done
}

# host_lacking_advice: the advice the host kernel lacks, as the tests' records
# spell them (dontneed-locked, populate-read, ...), separated by blanks.
# HWPOISON and SOFT_OFFLINE are left out: the shim never emulates them.
host_lacking_advice() {
	if [[ -z ${HOST_LACKING_ADVICE+x} ]]; then
		local name token
		HOST_LACKING_ADVICE=
		while IFS=$'\t' read -r name _; do
			name=${name#MADV_}
			case $name in HWPOISON | SOFT_OFFLINE) continue ;; esac
			host_has_advice "$name" && continue
			token=${name,,}
			HOST_LACKING_ADVICE+="${token//_/-} "
		done < <("$TEST_PROGS_DIR/advice-table-dump")
	fi
	printf '%s' "$HOST_LACKING_ADVICE"
}

# host_lacking_regex: an extended regex matching a record that names advice
# the host kernel lacks (as a whole word of letters and dashes); empty when
# it lacks none.
host_lacking_regex() {
	local words
	words=$(host_lacking_advice)
	words=${words% }
	[[ -n $words ]] || return 0
	printf '(^|[^a-z])(%s)([^a-z-]|$)' "${words// /|}"
}
