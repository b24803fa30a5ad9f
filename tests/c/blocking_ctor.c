/* For first-call: a constructor that says it runs and waits for a go, so
 * that the thread that dlopened it holds the loader's lock meanwhile.
 * FIRST_CALL_FDS is "W,R": the pipe ends to say so on and to wait on. */
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void wait_for_go(void)
{
	const char *fds = getenv("FIRST_CALL_FDS");
	if (!fds)
		return;
	char *end;
	int w = (int)strtol(fds, &end, 10), r = (int)strtol(end + 1, NULL, 10);
	char c = 'i';
	if (write(w, &c, 1) == 1 && read(r, &c, 1) == 1)
		return;
	_exit(3);
}
