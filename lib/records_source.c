/*
 * records_source.c — one open input (file or stdin) with read-ahead: BOM
 * removal, peeking at stdin's first byte for format detection, and line
 * reading with no length limit.
 *
 * Not for: deciding formats or building records (records_read.c).
 */
#include "records_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { PEEK_LIMIT = 64 * 1024 };

/* Read up to `want` more bytes into the read-ahead buffer; returns how many
 * arrived (0 at end of input). Read errors are left for the next real read
 * to report, through ferror. */
static size_t pre_fill(llp_source *s, size_t want)
{
    if (s->pre_len + want > s->pre_cap) {
        s->pre_cap = s->pre_len + want;
        s->pre = llp_realloc(s->pre, s->pre_cap);
    }
    size_t got = fread(s->pre + s->pre_len, 1, want, s->f);
    s->pre_len += got;
    return got;
}

int source_open(llp_source *s, const char *path, llp_err *err)
{
    memset(s, 0, sizeof *s);
    if (path) {
        s->f = fopen(path, "rb");
        if (!s->f) return llp_err_set(err, "%s: %s", path, strerror(errno));
        s->name = llp_strdup(path);
    } else {
        s->f = stdin;
        s->is_stdin = true;
        s->name = llp_strdup("stdin");
    }
    /* Spreadsheet exports start with a UTF-8 BOM; it is not part of the first
     * field, line or document. Fill byte by byte so a short input is fine. */
    while (s->pre_len < 3 && pre_fill(s, 1) == 1)
        if (memcmp(s->pre, "\xEF\xBB\xBF", s->pre_len) != 0) break;
    if (s->pre_len == 3 && memcmp(s->pre, "\xEF\xBB\xBF", 3) == 0) s->pre_pos = 3;
    /* A file that opens but cannot be read (EIO, a directory on stdin) fails
     * here, while errno still says why; later reads would see only the
     * stream's error flag. */
    if (ferror(s->f)) {
        int e = errno;
        llp_err_set(err, "%s: read error: %s", s->name, strerror(e));
        source_close(s);
        return -1;
    }
    return 0;
}

int source_peek_nonblank(llp_source *s)
{
    size_t i = s->pre_pos;
    for (;;) {
        while (i < s->pre_len) {
            unsigned char c = (unsigned char)s->pre[i];
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return c;
            i++;
        }
        if (s->pre_len - s->pre_pos >= PEEK_LIMIT || pre_fill(s, 1) == 0) return -1;
    }
}

ssize_t source_read(llp_source *s, void *buf, size_t n, llp_err *err)
{
    if (s->pre_pos < s->pre_len) {
        size_t k = s->pre_len - s->pre_pos;
        if (k > n) k = n;
        memcpy(buf, s->pre + s->pre_pos, k);
        s->pre_pos += k;
        return (ssize_t)k;
    }
    size_t got = fread(buf, 1, n, s->f);
    if (got == 0 && ferror(s->f))
        return llp_err_set(err, "%s: read error: %s", s->name, strerror(errno));
    return (ssize_t)got;
}

ssize_t source_getline(llp_source *s, char **buf, size_t *cap, llp_err *err)
{
    size_t len = 0;

    /* First whatever was read ahead, up to a newline. */
    if (s->pre_pos < s->pre_len) {
        char *start = s->pre + s->pre_pos;
        size_t avail = s->pre_len - s->pre_pos;
        char *nl = memchr(start, '\n', avail);
        len = nl ? (size_t)(nl - start) + 1 : avail;
        if (len + 1 > *cap) {
            *cap = len + 1;
            *buf = llp_realloc(*buf, *cap);
        }
        memcpy(*buf, start, len);
        (*buf)[len] = 0;
        s->pre_pos += len;
        if (nl) return (ssize_t)len;
    }

    /* Then the stream; getline grows its buffer, so no line is too long. */
    errno = 0;
    if (len == 0) {
        ssize_t got = getline(buf, cap, s->f);
        if (got < 0 && ferror(s->f))
            return llp_err_set(err, "%s: read error: %s", s->name, strerror(errno)) * 2;
        return got < 0 ? -1 : got;
    }
    char *rest = NULL;
    size_t rest_cap = 0;
    ssize_t got = getline(&rest, &rest_cap, s->f);
    if (got < 0) {
        free(rest);
        if (ferror(s->f))
            return llp_err_set(err, "%s: read error: %s", s->name, strerror(errno)) * 2;
        return (ssize_t)len;
    }
    if (len + (size_t)got + 1 > *cap) {
        *cap = len + (size_t)got + 1;
        *buf = llp_realloc(*buf, *cap);
    }
    memcpy(*buf + len, rest, (size_t)got + 1);
    free(rest);
    return (ssize_t)(len + (size_t)got);
}

void source_close(llp_source *s)
{
    if (s->f && !s->is_stdin) fclose(s->f);
    free(s->name);
    free(s->pre);
    memset(s, 0, sizeof *s);
}
