/*
 * cluster.c - the data directory's lock, held for the life of the process.
 *
 * An instance that starts alone takes it exclusively, cleans what a crash
 * left (half-written deliveries in tmp/, half-made accounts) and only then
 * shares it; one that finds it held joins with a shared lock and cleans
 * only what is older than any work in flight can be (CLUSTER_STALE_SECONDS),
 * since another instance's delivery may be in tmp/ at that very moment. flock()
 * works across NFS clients (Linux maps it to the NFS lock manager's byte-range
 * locks) and is released when the process dies.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

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

int
cluster_stale(int dirfd, const char *name, time_t now)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       st.st_mtime < now - CLUSTER_STALE_SECONDS;
}

int
cluster_clean_tmp(int md, time_t now)
{
	struct dirent *de;
	int fd, count = 0;
	DIR *d;

	if ((fd = openat(md, "tmp",
	         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (cluster_stale(dirfd(d), de->d_name, now) &&
		    unlinkat(dirfd(d), de->d_name, 0) == 0)
			count++;
	}
	closedir(d);
	return count;
}
