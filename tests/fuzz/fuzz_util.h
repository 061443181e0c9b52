/*
 * fuzz_util.h — helpers shared by the libFuzzer harnesses in tests/fuzz/:
 * handing the fuzzer's bytes to readers that take a path (one memfd per
 * process, rewritten for every input, opened as /proc/self/fd/N) and a
 * /dev/null stream for writers.
 *
 * Not for: the TAP tests (the C tests in tests/ replay crash inputs through the public
 * API themselves) or anything linked into the binaries.
 */
#ifndef LLP_FUZZ_UTIL_H
#define LLP_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* A path whose content is exactly data[0..n-1]. The memfd lives for the
 * whole process; every call replaces its content. Aborts on failure: a
 * harness that cannot set up its input must not report false passes. */
static inline const char *fuzz_bytes_path(const uint8_t *data, size_t n)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-input", MFD_CLOEXEC);
        if (fd < 0) { perror("memfd_create"); abort(); }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0) { perror("ftruncate"); abort(); }
    size_t done = 0;
    while (done < n) {
        ssize_t w = pwrite(fd, data + done, n - done, (off_t)done);
        if (w <= 0) { perror("pwrite"); abort(); }
        done += (size_t)w;
    }
    return path;
}

/* A stream that swallows what writers print, opened once. */
static inline FILE *fuzz_null_stream(void)
{
    static FILE *f;
    if (!f) f = fopen("/dev/null", "w");
    if (!f) { perror("/dev/null"); abort(); }
    return f;
}

#endif
