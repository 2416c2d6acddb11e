// What a stream socket's kernel state says about how its peer ended.
#pragma once

#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace sockcat {

// Tells whether an end of stream just read from socket `fd` was really a reset: Linux may
// report a reset as EOF (then the socket is already closed, or still holds the error), and
// only a FIN leaves a TCP connection in CLOSE_WAIT while we are still sending. A reset that
// came after the FIN (our send to a peer that had closed draws one) leaves EPIPE, not
// ECONNRESET: the peer had ended normally.
inline bool eof_was_reset(int fd) {
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == ECONNRESET) return true;
  if (error == EPIPE) return false;
  tcp_info info{};
  length = sizeof info;
  return ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) == 0 && info.tcpi_state == TCP_CLOSE;
}

}  // namespace sockcat
