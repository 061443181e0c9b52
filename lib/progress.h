/*
 * progress.h — the progress line on stderr: records done (of the total when
 * known), percent, rate, ETA, and how many were cached or failed. On a
 * terminal it is rewritten in place with '\r' at most ten times a second;
 * into a file or a pipe (--progress 2>log) each update is a line of its
 * own ending in '\n', at most one a second, and a line is never repeated.
 *
 * Not for: deciding whether to show it (cli.h: --progress, -q, a terminal)
 * or anything written to stdout.
 *
 *   llp-classify: 120/500 24% 15.2/s ETA 25s cached 3 failed 1
 */
#ifndef LLP_PROGRESS_H
#define LLP_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

typedef struct llp_progress llp_progress;

/* A bar on `out` labelled `label` ("llp-classify"); total <= 0 means
 * unknown (no percent, no ETA). */
llp_progress *llp_progress_new(FILE *out, const char *label, long total);

/* Report the counts so far; redraws when 0.1 s passed since the last draw,
 * or when `force`. NULL p is fine. */
void llp_progress_update(llp_progress *p, long done, long cached, long failed,
                         bool force);

/* Draw the final counts, end the line, free. NULL is fine. */
void llp_progress_finish(llp_progress *p);

#endif
