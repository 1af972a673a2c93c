/* control_socket.h - the control socket in the file system (control_socket.c): made safe, bound, removed. */
#ifndef KVMLITE_CONTROL_SOCKET_H
#define KVMLITE_CONTROL_SOCKET_H

#include "supervisor.h"

/* Listens on --socket or the default path (sv->listen_fd, sv->dir_fd); -1 with err. */
int control_listen(struct spawn *sv, char *err, size_t errlen);
/* Removes the socket control_listen() made. */
void control_unlink(struct spawn *sv);

#endif
