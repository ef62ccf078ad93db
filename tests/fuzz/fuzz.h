/*
 * fuzz.h - the libFuzzer entry point every target defines.  Built with
 * --enable-fuzzing the targets link libFuzzer; otherwise replay.c gives
 * them a main() that runs each file named on the command line (or every
 * file in a named directory) once, so make check replays the corpora.
 */
#ifndef XMPPSHIELD_FUZZ_H
#define XMPPSHIELD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A config every target shares: one c2s listener for example.org. */
struct config *fuzz_config(void);

#endif
