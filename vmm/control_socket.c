/* control_socket.c - the control socket in the file system: a directory only we can enter, no symlinks, a stale socket
 * told from a served one. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "control_socket.h"

/* openat2() with RESOLVE_NO_SYMLINKS: no component of path may be a symlink. */
static int open_nofollow(int at, const char *path)
{
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS };

	return (int)syscall(SYS_openat2, at, path, &how, sizeof(how));
}

/*
 * Opens the socket's directory, creating its last component (0700) if it
 * is missing, through no symlink; then it must be ours and closed to
 * everyone else. -1 with err.
 */
static int socket_dir_open(const char *dir, char *err, size_t errlen)
{
	char parent[PATH_MAX];
	const char *base = strrchr(dir, '/');
	struct stat st;
	int fd = open_nofollow(AT_FDCWD, dir);

	if (fd < 0 && errno == ENOENT) {
		int pfd;

		/* "a/b" -> "a" and "b"; "/b" -> "/" and "b"; "b" -> "." and "b" */
		snprintf(parent, sizeof(parent), "%.*s", base ? (int)(base == dir ? 1 : base - dir) : 1,
			 base ? dir : ".");
		base = base ? base + 1 : dir;
		pfd = open_nofollow(AT_FDCWD, parent);
		if (pfd >= 0 && mkdirat(pfd, base, 0700) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
			close(pfd);
			return -1;
		}
		fd = pfd >= 0 ? open_nofollow(pfd, base) : -1;
		if (pfd >= 0)
			close(pfd);
	}
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", dir,
			 errno == ELOOP ? "refusing a socket directory reached through a symlink" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0)
		st = (struct stat){ .st_uid = (uid_t)-1 };
	if (st.st_uid != geteuid() || (st.st_mode & 077)) {
		snprintf(err, errlen, "%s: refusing a socket directory %s (mode %04o): it must be ours, mode 0700", dir,
			 st.st_uid != geteuid() ? "owned by another user" : "that others may enter",
			 (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * bind() or connect() to the socket `name` in the directory dfd. A unix
 * socket is named by a path, so it is resolved from that directory (the
 * process still has one thread) rather than from the root again, where a
 * component could have changed meanwhile.
 */
static int socket_at(int dfd, const char *name, int fd, bool listen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC), r = -1, e;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", name);
	if (cwd >= 0 && fchdir(dfd) == 0) {
		r = listen ? bind(fd, (struct sockaddr *)&addr, sizeof(addr))
			   : connect(fd, (struct sockaddr *)&addr, sizeof(addr));
		e = errno;
		if (fchdir(cwd) < 0)
			r = -1;
		errno = e;
	}
	if (cwd >= 0)
		close(cwd);
	return r;
}

/*
 * Whether a spawn serves the socket `name` in `dfd`. One that was killed
 * can still take connections for a moment: the accept it had in flight in
 * its io_uring holds the listening socket until the kernel has torn the
 * dead process's ring down (seen here: a few ms). So a socket counts as
 * served only if it takes connections for a whole second.
 */
static bool socket_served(int dfd, const char *name)
{
	for (int i = 0; i < 20; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool took = fd >= 0 && socket_at(dfd, name, fd, false) == 0;

		if (fd >= 0)
			close(fd);
		if (!took)
			return false;
		usleep(50000);
	}
	return true;
}

/* sv->path from --socket or the default; sv->sock_name its last component, dir the rest. */
static int socket_path_set(struct spawn *sv, char *dir, size_t dirlen, char *err, size_t errlen)
{
	const char *src = sv->o->socket;
	char *slash;

	if (!src && control_default_path(sv->path, sizeof(sv->path)) < 0) {
		snprintf(err, errlen, "no place for the control socket: set XDG_RUNTIME_DIR or use --socket");
		return -1;
	}
	if (src && strlen(src) >= sizeof(sv->path)) { /* sun_path's size, with its NUL */
		snprintf(err, errlen, "--socket: the path is %zu bytes, a unix socket's at most %zu", strlen(src),
			 sizeof(sv->path) - 1);
		return -1;
	}
	if (src)
		snprintf(sv->path, sizeof(sv->path), "%s", src);
	slash = strrchr(sv->path, '/');
	sv->sock_name = slash ? slash + 1 : sv->path;
	snprintf(dir, dirlen, "%.*s", slash ? (int)(slash == sv->path ? 1 : slash - sv->path) : 1,
		 slash ? sv->path : ".");
	if (!*sv->sock_name || strcmp(sv->sock_name, ".") == 0 || strcmp(sv->sock_name, "..") == 0) {
		snprintf(err, errlen, "%s: names no socket file", sv->path);
		return -1;
	}
	return 0;
}

/* A socket already there: ours and stale (left by a spawn that was killed) is removed; anything else refused. */
static int socket_stale_remove(struct spawn *sv, char *err, size_t errlen)
{
	struct stat st;

	if (fstatat(sv->dir_fd, sv->sock_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: refusing: it exists and is %s", sv->path,
			 S_ISLNK(st.st_mode)	 ? "a symlink"
			 : !S_ISSOCK(st.st_mode) ? "not a socket"
						 : "another user's");
		return -1;
	}
	if (socket_served(sv->dir_fd, sv->sock_name)) {
		snprintf(err, errlen, "%s: another kvmlite spawn is serving this socket", sv->path);
		return -1;
	}
	unlinkat(sv->dir_fd, sv->sock_name, 0);
	return 0;
}

/*
 * The socket lives in a directory only we can enter (0700, ours, reached
 * through no symlink) and is itself 0600: the file system keeps other
 * users out before SO_PEERCRED does. Once the directory is open, all is
 * done relative to it (sv->dir_fd): checking and removing a stale socket,
 * the bind, and the removal at the end.
 */
int control_listen(struct spawn *sv, char *err, size_t errlen)
{
	char dir[sizeof(sv->path)];
	mode_t old;
	int fd;

	if (socket_path_set(sv, dir, sizeof(dir), err, errlen) < 0)
		return -1;
	if ((sv->dir_fd = socket_dir_open(dir, err, errlen)) < 0)
		return -1;
	if (socket_stale_remove(sv, err, errlen) < 0)
		goto fail;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	old = umask(0177); /* the socket file: 0600 */
	if (fd < 0 || socket_at(sv->dir_fd, sv->sock_name, fd, true) < 0 || listen(fd, 1024) < 0) {
		umask(old);
		snprintf(err, errlen, "%s: cannot listen: %s", sv->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	umask(old);
	sv->listen_fd = fd;
	return 0;
fail:
	close(sv->dir_fd);
	sv->dir_fd = -1;
	return -1;
}

/* Removes the socket control_listen() made: by name in its directory, the
 * one removal the supervisor's sandbox allows. */
void control_unlink(struct spawn *sv)
{
	if (sv->dir_fd >= 0)
		unlinkat(sv->dir_fd, sv->sock_name, 0);
}
