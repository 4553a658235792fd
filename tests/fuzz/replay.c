/*
 * replay.c - the fuzz targets' main in the normal build: every file of the
 * corpus directories (or the files) named on the command line goes once to
 * LLVMFuzzerTestOneInput, as "fuzz_msg -runs=0 DIR" does with libFuzzer.
 * So the ordinary suite, built with gcc and under ASan+UBSan too, replays
 * the corpora and a fixed finding stays fixed. An input that crashes the
 * target fails the test; its name is printed before it runs.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target, as with libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Read the whole file; NULL (errno set) on failure. */
static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *nbuf;
	size_t cap = 0, n;

	*len = 0;
	if (f == NULL)
		return NULL;
	for (;;) {
		if (*len == cap) {
			cap = cap == 0 ? 4096 : cap * 2;
			if ((nbuf = realloc(buf, cap)) == NULL)
				goto fail;
			buf = nbuf;
		}
		n = fread(buf + *len, 1, cap - *len, f);
		*len += n;
		if (n == 0)
			break;
	}
	if (ferror(f))
		goto fail;
	fclose(f);
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

static int
run_file(const char *path)
{
	uint8_t *data;
	size_t len;

	printf("%s\n", path);
	fflush(stdout);
	if ((data = slurp(path, &len)) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	/* A copy of exactly len bytes, so ASan sees any overread. */
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	return 0;
}

/* Every regular file of dir, in name order; returns how many, -1 on error. */
static int
run_dir(const char *dir)
{
	struct dirent **names;
	struct stat st;
	char path[4096];
	int i, n, ran = 0, rc = 0;

	if ((n = scandir(dir, &names, NULL, alphasort)) == -1) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (names[i]->d_name[0] != '.' && stat(path, &st) == 0 &&
		    S_ISREG(st.st_mode)) {
			if (run_file(path) == -1)
				rc = -1;
			ran++;
		}
		free(names[i]);
	}
	free(names);
	return rc == -1 ? -1 : ran;
}

int
main(int argc, char **argv)
{
	struct stat st;
	int i, n, total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s corpus-dir-or-file...\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			n = run_dir(argv[i]);
		else
			n = run_file(argv[i]) == -1 ? -1 : 1;
		if (n == -1)
			return 1;
		total += n;
	}
	/* An empty corpus would make the test pass while checking nothing. */
	if (total == 0) {
		fprintf(stderr, "no inputs in the corpus\n");
		return 1;
	}
	printf("%d inputs replayed\n", total);
	return 0;
}
