/*
 * fault.h - failure injection for the tests of the store's error paths (a
 * full disk, an I/O error). Only the glomaild-faults test build, compiled
 * with GLOMAIL_FAULT_INJECTION, has it; in glomaild every check is a
 * constant 0 that the compiler removes.
 */
#ifndef GLOMAILD_FAULT_H
#define GLOMAILD_FAULT_H

#ifdef GLOMAIL_FAULT_INJECTION
/*
 * 1, with errno set, when the file named by the GLOMAIL_FAULTS environment
 * variable has a line "<step> <ERRNO>" (ENOSPC, EIO, EDQUOT; ENOSPC if
 * omitted): the caller fails that step as the system would. Read on each
 * call, so a test turns faults on and off while the server runs.
 */
int fault_hit(const char *step);
#else
static inline int
fault_hit(const char *step)
{
	(void)step;
	return 0;
}
#endif

#endif
