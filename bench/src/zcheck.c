/* zcheck HOST PORT: the floor of a zero-I/O port check. One blocking connect() to a
 * numeric IPv4/IPv6 address, then close(). Exit 0 if the connection was established,
 * 1 if not, 2 on bad arguments. No name resolution, no I/O, no options.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: zcheck HOST PORT\n"); return 2; }
    char *end;
    long port = strtol(argv[2], &end, 10);
    if (*end || port < 1 || port > 65535) { fprintf(stderr, "zcheck: bad port\n"); return 2; }

    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, argv[1], &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET; a4->sin_port = htons((unsigned short)port); len = sizeof *a4;
    } else if (inet_pton(AF_INET6, argv[1], &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6; a6->sin6_port = htons((unsigned short)port); len = sizeof *a6;
    } else {
        fprintf(stderr, "zcheck: not a numeric address: %s\n", argv[1]);
        return 2;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { perror("zcheck: socket"); return 1; }
    int ok = connect(fd, (struct sockaddr *)&ss, len) == 0;
    close(fd);
    return ok ? 0 : 1;
}
