/* tls_send [-A] [-v] HOST PORT
 *
 * The limit row's sender for TLS bulk: connects (blocking), does the TLS 1.3 handshake
 * (TLS_AES_128_GCM_SHA256 only; -A: OpenSSL's default TLS 1.3 suites, for the cipher
 * probes; the server is not verified), then copies stdin into the connection in reads of
 * up to 256 KiB (OpenSSL cuts them into 16 KiB records). At stdin EOF it sends close_notify
 * and reads until the server's close_notify or EOF, so the receiver has everything.
 * -v: "tls_send: negotiated TLSv1.3/TLS_AES_128_GCM_SHA256 bytes=N" on stderr at the end.
 * Exit 0 when everything was sent, 1 on a failure, 2 on bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_common.h"
#include "tls_common.h"

int main(int argc, char **argv) {
    int any = 0, verbose = 0, opt;
    while ((opt = getopt(argc, argv, "Av")) != -1) {
        if (opt == 'A') any = 1;
        else if (opt == 'v') verbose = 1;
        else goto bad;
    }
    if (argc - optind != 2) goto bad;
    int port = atoi(argv[optind + 1]);
    if (port < 1 || port > 65535 || parse_addr(argv[optind], port) != 0) goto bad;
    signal(SIGPIPE, SIG_IGN);

    SSL_CTX *ctx = tls_context(0, NULL, NULL, any);
    if (!ctx) return 1;
    int fd = socket(dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&dst, dst_len) != 0) { perror("tls_send: connect"); return 1; }
    SSL *ssl = SSL_new(ctx);
    if (!ssl || !SSL_set_fd(ssl, fd) || SSL_connect(ssl) != 1) {
        fprintf(stderr, "tls_send: handshake failed: ");
        ERR_print_errors_fp(stderr);
        return 1;
    }
    static char buf[256 * 1024];
    unsigned long long bytes = 0;
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { perror("tls_send: read"); return 1; }
        if (n == 0) break;
        if (SSL_write(ssl, buf, (int)n) != (int)n) {   /* blocking, no partial writes: all or an error */
            fprintf(stderr, "tls_send: write failed: ");
            ERR_print_errors_fp(stderr);
            return 1;
        }
        bytes += (unsigned long long)n;
    }
    SSL_shutdown(ssl);   /* close_notify */
    while (SSL_read(ssl, buf, sizeof buf) > 0) {}   /* until the server's close_notify (or EOF) */
    if (verbose) {
        char neg[96];
        fprintf(stderr, "tls_send: negotiated %s bytes=%llu\n", tls_negotiated(ssl, neg, sizeof neg), bytes);
    }
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
    return 0;
bad:
    fprintf(stderr, "usage: tls_send [-A] [-v] HOST PORT\n");
    return 2;
}
