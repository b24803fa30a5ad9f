/* Messages without stdio or malloc: they are formatted into a caller's stack
 * buffer and written with one write(2), so a line is never interleaved with
 * another thread's and the code is safe inside malloc or a signal handler. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

void msg_str(struct msgbuf *m, const char *s)
{
	size_t room = sizeof m->buf - m->len;
	size_t n = strlen(s);
	if (n > room)
		n = room;
	memcpy(m->buf + m->len, s, n);
	m->len += n;
}

static void msg_digits(struct msgbuf *m, unsigned long long v, unsigned base)
{
	char tmp[24];
	size_t i = sizeof tmp;
	tmp[--i] = 0;
	do {
		tmp[--i] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && i);
	msg_str(m, tmp + i);
}

void msg_num(struct msgbuf *m, long long v)
{
	if (v < 0) {
		msg_str(m, "-");
		msg_digits(m, 0ULL - (unsigned long long)v, 10);
	} else {
		msg_digits(m, (unsigned long long)v, 10);
	}
}

void msg_hex(struct msgbuf *m, unsigned long long v)
{
	msg_str(m, "0x");
	msg_digits(m, v, 16);
}

void msg_write(int fd, const struct msgbuf *m)
{
	int saved = errno;
	size_t off = 0;
	while (off < m->len) {
		ssize_t w = write(fd, m->buf + off, m->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	errno = saved;
}
