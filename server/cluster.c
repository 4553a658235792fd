/*
 * cluster.c - the data directory's lock, held for the life of the process.
 *
 * An instance that starts alone takes it exclusively, cleans what a crash
 * left (half-written deliveries in tmp/, half-made accounts) and only then
 * shares it; one that finds it held joins with a shared lock and cleans
 * nothing, since another instance's delivery may be in tmp/ at that very
 * moment. flock() works across NFS clients (Linux maps it to the NFS lock
 * manager's byte-range locks) and is released when the process dies.
 */
#include <sys/file.h>

#include <errno.h>

#include "cluster.h"

int
cluster_lock(int fd, int *alone_r)
{
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		*alone_r = 1;
		return 0;
	}
	if (errno != EWOULDBLOCK)
		return -1;
	/* Held: wait for a shared lock, i.e. for a cleanup in progress. */
	while (flock(fd, LOCK_SH) == -1) {
		if (errno != EINTR)
			return -1;
	}
	*alone_r = 0;
	return 0;
}

int
cluster_share(int fd)
{
	/*
	 * Not atomic (the exclusive lock is dropped first), which is fine: a
	 * newcomer that takes it exclusively in the gap cleans a store on
	 * which this instance has not delivered yet, and this call waits.
	 */
	while (flock(fd, LOCK_SH) == -1) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}
