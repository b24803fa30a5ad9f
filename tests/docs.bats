#!/usr/bin/env bats
# docs/semantics.md against the code.
#
# The advice table in docs/semantics.md repeats, in its first five columns,
# what shim/advice_table.h says: advice, number, since, class, emulation.
# advice-table-dump (tests/c/advice_table_dump.c) prints the code's table;
# these tests compare the two row by row, so that a row that is missing,
# extra, out of order or different fails with a diff.  The checker is also
# run on doctored copies of the page, to show that it can fail.

bats_require_minimum_version 1.5.0

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	DUMP="$TEST_PROGS_DIR/advice-table-dump"
	DOC="$SOURCE_ROOT/docs/semantics.md"
	README="$SOURCE_ROOT/README.md"
}

# doc_rows FILE: the advice table of FILE as tab-separated lines of its first
# five cells, backticks and surrounding blanks removed.  The table is the one
# whose header starts "| advice | number |"; it ends at the first line that
# does not start with "|".  Fails if there is no such table.
doc_rows() {
	awk '
		function cell(s) {
			gsub(/`/, "", s)
			gsub(/^[ \t]+|[ \t]+$/, "", s)
			return s
		}
		!in_table && /^\|[ \t]*advice[ \t]*\|[ \t]*number[ \t]*\|/ {
			in_table = 1; found = 1; getline; next   # skip the |---| line
		}
		in_table && !/^\|/ { in_table = 0; exit }
		in_table {
			line = $0
			gsub(/\\\|/, "\001", line)                  # escaped pipes stay in their cell
			n = split(line, c, "|")
			printf "%s\t%s\t%s\t%s\t%s\n", cell(c[2]), cell(c[3]), cell(c[4]), cell(c[5]), cell(c[6])
		}
		END { if (!found) { print "no advice table in " FILENAME > "/dev/stderr"; exit 1 } }
	' "$1"
}

# code_rows: advice-table-dump's output.
code_rows() {
	"$DUMP"
}

# The page gives x86-64 numbers; elsewhere the number column is left out.
comparable() {
	if [[ $(uname -m) == x86_64 ]]; then
		cat
	else
		cut -f1,3-5
	fi
}

# compare_table FILE: succeeds if FILE's table matches the code's, else
# prints a unified diff (code -, page +) and fails.
compare_table() {
	local doc code
	doc=$(doc_rows "$1") || return 1
	code=$(code_rows) || return 1
	doc=$(comparable <<<"$doc")
	code=$(comparable <<<"$code")
	if [[ "$doc" != "$code" ]]; then
		echo "the advice table in $1 differs from advice-table-dump (-code +page):"
		diff -u --label advice-table-dump --label "$1" \
			<(printf '%s\n' "$code") <(printf '%s\n' "$doc")
		return 1
	fi
}

@test "advice-table-dump prints five tab-separated fields per advice value" {
	run "$DUMP"
	assert_success
	[[ ${#lines[@]} -ge 20 ]] || fail "only ${#lines[@]} rows"
	local line f
	for line in "${lines[@]}"; do
		IFS=$'\t' read -r -a f <<<"$line"
		[[ ${#f[@]} -eq 5 ]] || fail "not five fields: $line"
		[[ ${f[0]} =~ ^MADV_[A-Z_]+$ ]] || fail "bad name: $line"
		[[ ${f[1]} =~ ^[0-9]+$ ]] || fail "bad value: $line"
		[[ ${f[2]} =~ ^[0-9]+\.[0-9]+(\.[1-9][0-9]*)?$ ]] || fail "bad version: $line"
		[[ ${f[3]} =~ ^(hint|destructive|fork|populate|guard|file|test)$ ]] || fail "bad class: $line"
		[[ ${f[4]} =~ ^[a-z-]+$ ]] || fail "bad emulation: $line"
	done
	# one row per advice value: no name and no number twice
	run bash -c '"$1" | cut -f1 | sort | uniq -d' _ "$DUMP"
	assert_output ""
	run bash -c '"$1" | cut -f2 | sort | uniq -d' _ "$DUMP"
	assert_output ""
}

@test "docs/semantics.md: the advice table matches advice-table-dump row by row" {
	[[ -f "$DOC" ]] || fail "$DOC is missing"
	run compare_table "$DOC"
	assert_success
}

@test "docs/semantics.md: every row of the advice table has eight non-empty cells" {
	run awk '
		!t && /^\|[ \t]*advice[ \t]*\|[ \t]*number[ \t]*\|/ { t = 1; getline; next }
		t && !/^\|/ { exit }
		t {
			line = $0
			gsub(/\\\|/, "", line)
			n = split(line, c, "|")
			if (n != 10) { print "not 8 cells: " $0; bad = 1; next }
			for (i = 2; i <= 9; i++)
				if (c[i] ~ /^[ \t]*$/) { print "empty cell " i - 1 ": " $0; bad = 1 }
		}
		END { exit bad }
	' "$DOC"
	assert_success
}

@test "README.md links docs/semantics.md" {
	run grep -E '\]\((\./)?docs/semantics\.md(#[^)]*)?\)' "$README"
	assert_success
}

# ---- the checker itself: doctored copies of the page must fail ----------

# doctor SED-SCRIPT: a copy of the page edited by sed, in the test's own
# directory; prints its path.
doctor() {
	local copy="$BATS_TEST_TMPDIR/semantics.md"
	sed -e "$1" "$DOC" >"$copy"
	cmp -s "$DOC" "$copy" && fail "the sed script '$1' changed nothing"
	echo "$copy"
}

@test "checker: a missing row fails, with a diff" {
	local copy
	copy=$(doctor '/^| `MADV_FREE` /d')
	run compare_table "$copy"
	assert_failure
	assert_output --partial "-MADV_FREE"
}

@test "checker: an extra row fails, with a diff" {
	local copy
	copy=$(doctor '/^| `MADV_NORMAL` /p')
	run compare_table "$copy"
	assert_failure
	assert_output --partial "+MADV_NORMAL"
}

@test "checker: a different version fails, with a diff" {
	local copy
	copy=$(doctor 's/^\(| `MADV_WIPEONFORK` | [0-9]* | \)4\.14 |/\14.15 |/')
	run compare_table "$copy"
	assert_failure
	assert_output --partial "+MADV_WIPEONFORK"
}

@test "checker: a different class or emulation fails, with a diff" {
	local copy
	copy=$(doctor 's/^\(| `MADV_REMOVE` | [0-9]* | [0-9.]* | \)file | `remove` |/\1hint | `noop` |/')
	run compare_table "$copy"
	assert_failure
	assert_output --partial "+MADV_REMOVE"
}

@test "checker: two rows swapped fail, with a diff" {
	local copy
	copy=$(doctor '/^| `MADV_COLD` /{h;d};/^| `MADV_PAGEOUT` /G')
	run compare_table "$copy"
	assert_failure
	assert_output --partial "MADV_COLD"
}

@test "checker: a page without the table fails" {
	local copy
	copy=$(doctor 's/^| advice | number |/| value | number |/')
	run compare_table "$copy"
	assert_failure
}
