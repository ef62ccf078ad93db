/*
 * replay.c - run a fuzz target over files and directories without
 * libFuzzer: the regression half of fuzzing, in every make check.
 * Prints TAP, one line per corpus directory or file.
 */
#include "autoconf.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	if (f == NULL)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (n < 0 || (buf = malloc((size_t)n + 1)) == NULL) {
		fclose(f);
		return -1;
	}
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

int
main(int argc, char *argv[])
{
	int i, t = 0, failed = 0;

	for (i = 1; i < argc; i++) {
		struct stat st;
		int files = 0, bad = 0;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *e;
			char path[4096];

			while (d != NULL && (e = readdir(d)) != NULL) {
				if (e->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "%s/%s", argv[i],
				    e->d_name);
				bad += run_file(path) == -1;
				files++;
			}
			if (d != NULL)
				closedir(d);
		} else {
			bad += run_file(argv[i]) == -1;
			files = 1;
		}
		printf("%sok %d - %s: %d inputs replayed\n", bad || !files ?
		    "not " : "", ++t, argv[i], files);
		failed |= bad || !files;
	}
	printf("1..%d\n", t);
	return failed;
}
