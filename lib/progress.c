/*
 * progress.c — the stderr progress line (see progress.h).
 *
 * Not for: stdout, or any decision about when a bar is wanted.
 */
#include "progress.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "util.h"

#define REDRAW_SECONDS 0.1      /* on a terminal */
#define LINE_SECONDS 1.0        /* into a file: a log should not fill up */

struct llp_progress {
    FILE *out;
    char *label;
    long total;
    double started, last_draw;
    long done, cached, failed;
    bool lines;             /* not a terminal: one '\n' line per update */
    int last_len;           /* characters of the previous line, to blank */
    char last[256];         /* the previous line (lines mode: not repeated) */
};

llp_progress *llp_progress_new(FILE *out, const char *label, long total)
{
    llp_progress *p = llp_calloc(1, sizeof *p);
    p->out = out ? out : stderr;
    p->label = llp_strdup(label ? label : "llamapipe");
    p->total = total;
    p->started = llp_now();
    p->last_draw = -1;
    p->lines = !isatty(fileno(p->out));
    return p;
}

/* "42s", "3m05s", "2h07m". */
static void format_duration(double seconds, char *buf, size_t n)
{
    long s = (long)(seconds + 0.5);
    if (s < 60) snprintf(buf, n, "%lds", s);
    else if (s < 3600) snprintf(buf, n, "%ldm%02lds", s / 60, s % 60);
    else snprintf(buf, n, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
}

static void draw(llp_progress *p, double now)
{
    char line[256];
    int len = 0;
    double elapsed = now - p->started;
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    if (p->total > 0) {
        long pct = p->done >= p->total ? 100 : p->done * 100 / p->total;
        len = snprintf(line, sizeof line, "%s: %ld/%ld %ld%% %.1f/s", p->label,
                       p->done, p->total, pct, rate);
        if (rate > 0 && p->done < p->total) {
            char eta[32];
            format_duration((double)(p->total - p->done) / rate, eta,
                            sizeof eta);
            len += snprintf(line + len, sizeof line - (size_t)len, " ETA %s",
                            eta);
        }
    } else {
        len = snprintf(line, sizeof line, "%s: %ld %.1f/s", p->label, p->done,
                       rate);
    }
    if (p->cached && len < (int)sizeof line)
        len += snprintf(line + len, sizeof line - (size_t)len, " cached %ld",
                        p->cached);
    if (p->failed && len < (int)sizeof line)
        len += snprintf(line + len, sizeof line - (size_t)len, " failed %ld",
                        p->failed);
    if (len >= (int)sizeof line) len = (int)sizeof line - 1;
    p->last_draw = now;
    if (p->lines) {
        if (strcmp(line, p->last) == 0) return;
        fprintf(p->out, "%s\n", line);
    } else {
        /* Pad with spaces over a longer previous line rather than using a
         * terminal escape. */
        int pad = p->last_len > len ? p->last_len - len : 0;
        fprintf(p->out, "\r%s%*s", line, pad, "");
    }
    fflush(p->out);
    memcpy(p->last, line, (size_t)len + 1);
    p->last_len = len;
}

void llp_progress_update(llp_progress *p, long done, long cached, long failed,
                         bool force)
{
    if (!p) return;
    p->done = done;
    p->cached = cached;
    p->failed = failed;
    double now = llp_now();
    double every = p->lines ? LINE_SECONDS : REDRAW_SECONDS;
    if (force || p->last_draw < 0 || now - p->last_draw >= every)
        draw(p, now);
}

void llp_progress_finish(llp_progress *p)
{
    if (!p) return;
    draw(p, llp_now());
    if (!p->lines) {
        fputc('\n', p->out);
        fflush(p->out);
    }
    free(p->label);
    free(p);
}
