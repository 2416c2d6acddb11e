/* What the TLS helpers (tls_loadgen, tls_server, tls_send) share: one way to make an
 * OpenSSL context with the cipher every TLS section measures (TLS 1.3 only,
 * TLS_AES_128_GCM_SHA256), and the name of what a connection negotiated.
 * Header-only: each helper is built from its one .c file (with -lssl -lcrypto). */
#ifndef BENCH_TLS_COMMON_H
#define BENCH_TLS_COMMON_H

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>

#define BENCH_TLS_SUITE "TLS_AES_128_GCM_SHA256"

/* A client (cert == NULL) or server context. any_suite: keep OpenSSL's default TLS 1.3
 * suites (the cipher probes use it to see what the other end picks); otherwise only
 * BENCH_TLS_SUITE. Clients do not verify the server: they measure, they do not test.
 * Buffers of idle connections are released (SSL_MODE_RELEASE_BUFFERS), and a write that
 * has to be retried may come from a different buffer holding the same bytes. */
static SSL_CTX *tls_context(int server, const char *cert, const char *key, int any_suite) {
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) goto fail;
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION)) goto fail;
    if (!any_suite && !SSL_CTX_set_ciphersuites(ctx, BENCH_TLS_SUITE)) goto fail;
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (server) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, key ? key : cert, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1)
            goto fail;
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);   /* full handshakes, flat memory */
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);   /* never resume: every handshake is full */
    }
    return ctx;
fail:
    fprintf(stderr, "TLS context: ");
    ERR_print_errors_fp(stderr);
    fprintf(stderr, "\n");
    if (ctx) SSL_CTX_free(ctx);
    return NULL;
}

/* "TLSv1.3/TLS_AES_128_GCM_SHA256" for a connection whose handshake is complete. */
static const char *tls_negotiated(const SSL *ssl, char *out, size_t cap) {
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
    snprintf(out, cap, "%s/%s", SSL_get_version(ssl), c ? SSL_CIPHER_get_name(c) : "none");
    return out;
}

#endif
