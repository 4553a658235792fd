/*
 * fault.c - failure injection, compiled only into the glomaild-faults test
 * build (see fault.h). It keeps no state: the control file is read on every
 * call, from any thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"

#ifdef GLOMAIL_FAULT_INJECTION
int
fault_hit(const char *step)
{
	const char *path = getenv("GLOMAIL_FAULTS");
	char line[128], name[64], err[32];
	FILE *f;
	int n, hit = 0;

	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return 0;
	while (!hit && fgets(line, sizeof(line), f) != NULL) {
		n = sscanf(line, "%63s %31s", name, err);
		if (n < 1 || strcmp(name, step) != 0)
			continue;
		hit = 1;
		if (n == 2 && strcmp(err, "EIO") == 0)
			errno = EIO;
		else if (n == 2 && strcmp(err, "EDQUOT") == 0)
			errno = EDQUOT;
		else
			errno = ENOSPC;
	}
	n = errno;
	fclose(f);
	errno = n;
	return hit;
}
#endif
