#!/usr/bin/env bats
# The library exports exactly the interposed entry points and uses nothing
# that could allocate, buffer or read the environment per call.  mmap,
# mmap64, munmap and mremap are interposed so that emulated fork advice and
# guards follow the mappings.

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	load lib/host
	command -v nm >/dev/null || skip_missing nm binutils
}

@test "only the interposed symbols are exported" {
	run sh -c "nm -D --defined-only '$MADVISE_SHIM_LIB' | awk '\$2 ~ /^[TWDBVi]\$/ {print \$3}' | sed 's/@.*//' | sort | tr '\n' ' '"
	assert_success
	assert_output "madvise mlock mlock2 mlockall mmap mmap64 mprotect mremap munmap posix_fadvise posix_fadvise64 posix_madvise process_madvise syscall "
}

@test "the version script hides internal functions" {
	local internal=' (shim_madvise|emulate_madvise|vma_walk|next_resolve|state_learn|real_mmap|fork_track_map|emulate_fork_advice|guard_forget)$'
	# nm itself must work, or an empty listing would pass
	run nm -D "$MADVISE_SHIM_LIB"
	assert_success
	assert_line --regexp ' T madvise(@@[A-Z_0-9.]+)?$'
	refute_line --regexp "$internal"
	# and the names are real: the full symbol table has them, as local
	run nm "$MADVISE_SHIM_LIB"
	assert_success
	[ "$(grep -cE " t$internal" <<<"$output")" -eq 9 ]
}

@test "no allocator, stdio or getenv is linked in" {
	run sh -c "nm -D --undefined-only '$MADVISE_SHIM_LIB' | awk '{print \$2}' | sed 's/@.*//'"
	assert_success
	refute_line --regexp '^(malloc|calloc|realloc|free|aligned_alloc|posix_memalign|strdup|fopen|fprintf|printf|snprintf|sprintf|puts|fputs|getenv)$'
	# and it really does read its configuration through secure_getenv
	assert_line secure_getenv
}

@test "posix_fadvise keeps its own name next to posix_fadvise64" {
	run sh -c "nm -D --defined-only '$MADVISE_SHIM_LIB' | grep -c -E ' posix_fadvise(64)?\$'"
	assert_output 2
}

@test "every object calls only its own layer or lower ones (shim/README.md)" {
	run "$SOURCE_ROOT/scripts/check-layers" "$BUILD_ROOT" "$SOURCE_ROOT"
	assert_success
	assert_output ''
}

@test "the layering check fails on an upward call and on an exception no longer needed" {
	# a copy of the objects where a mem/ object uses a core/ function
	local t=$BATS_TEST_TMPDIR objs=$BATS_TEST_TMPDIR/shim/libmadvise-shim.so.p
	mkdir -p "$objs" "$t/src/shim"
	cp "$BUILD_ROOT"/shim/libmadvise-shim.so.p/*.o "$objs/"
	printf 'long shim_madvise(unsigned long, unsigned long, int);\nlong upward(void) { return shim_madvise(0, 0, 0); }\n' >"$t/up.c"
	cc -c -o "$objs/mem_upward.c.o" "$t/up.c"
	cp "$SOURCE_ROOT/shim/layers-exceptions.txt" "$t/src/shim/"
	run "$SOURCE_ROOT/scripts/check-layers" "$t" "$t/src"
	assert_failure 1
	assert_output 'check-layers: mem/upward.c calls shim_madvise (core/dispatch.c), a higher layer'
	# an exception whose call is gone
	rm "$objs/mem_upward.c.o"
	echo 'mem/filemap.c shim_madvise  never made' >>"$t/src/shim/layers-exceptions.txt"
	run "$SOURCE_ROOT/scripts/check-layers" "$t" "$t/src"
	assert_failure 1
	assert_output --partial 'mem/filemap.c shim_madvise is listed in layers-exceptions.txt but no longer happens'
}
