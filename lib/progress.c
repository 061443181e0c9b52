/*
 * progress.c — the stderr progress line (see progress.h).
 *
 * Not for: stdout, or any decision about when a bar is wanted.
 */
#include "progress.h"

#include <stdlib.h>
#include <string.h>
#include "util.h"

#define REDRAW_SECONDS 0.1

struct llp_progress {
    FILE *out;
    char *label;
    long total;
    double started, last_draw;
    long done, cached, failed;
    int last_len;           /* characters of the previous line, to blank */
};

llp_progress *llp_progress_new(FILE *out, const char *label, long total)
{
    llp_progress *p = llp_calloc(1, sizeof *p);
    p->out = out ? out : stderr;
    p->label = llp_strdup(label ? label : "llamapipe");
    p->total = total;
    p->started = llp_now();
    p->last_draw = -1;
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
    /* Pad with spaces over a longer previous line rather than using a
     * terminal escape, so a log file (--progress 2>log) stays readable. */
    int pad = p->last_len > len ? p->last_len - len : 0;
    fprintf(p->out, "\r%s%*s", line, pad, "");
    fflush(p->out);
    p->last_len = len;
    p->last_draw = now;
}

void llp_progress_update(llp_progress *p, long done, long cached, long failed,
                         bool force)
{
    if (!p) return;
    p->done = done;
    p->cached = cached;
    p->failed = failed;
    double now = llp_now();
    if (force || p->last_draw < 0 || now - p->last_draw >= REDRAW_SECONDS)
        draw(p, now);
}

void llp_progress_finish(llp_progress *p)
{
    if (!p) return;
    draw(p, llp_now());
    fputc('\n', p->out);
    fflush(p->out);
    free(p->label);
    free(p);
}
