/*
 * LD_PRELOAD shim that gives wrk (which has no client-certificate option) a TLS client identity, and controls
 * session resumption per handshake. Built by the benchmark with
 *   cc -shared -fPIC -O2 -o wrk-cert-shim.so wrk-cert-shim.c -ldl -lssl -lcrypto
 *
 * Environment:
 *   WRK_CLIENT_CERT, WRK_CLIENT_KEY  PEM chain and key loaded into every SSL_CTX wrk creates
 *   WRK_CLIENT_LIST                  file of "<chain.pem> <key.pem>" lines: handshake k presents line k (wrapping
 *                                    around); implies WRK_NO_RESUME (a resumed session would carry the old identity)
 *   WRK_NO_RESUME=1                  every handshake is a full one (wrk keeps a connection's session across
 *                                    reconnects, so by default it resumes)
 *   WRK_TLS_STATS                    file written at exit: "handshakes <n>\nresumed <n>\n"
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long handshakes, resumed, next_identity;
static char **list_certs, **list_keys;
static size_t list_len;

static void load_list(const char *path)
{
    FILE *f = fopen(path, "r");
    char cert[4096], key[4096];
    size_t cap = 0;
    if (f == NULL) {
        perror("wrk-cert-shim: WRK_CLIENT_LIST");
        exit(2);
    }
    while (fscanf(f, "%4095s %4095s", cert, key) == 2) {
        if (list_len == cap) {
            cap = cap == 0 ? 256 : cap * 2;
            list_certs = realloc(list_certs, cap * sizeof(char *));
            list_keys = realloc(list_keys, cap * sizeof(char *));
            if (list_certs == NULL || list_keys == NULL) exit(2);
        }
        list_certs[list_len] = strdup(cert);
        list_keys[list_len] = strdup(key);
        list_len++;
    }
    fclose(f);
    if (list_len == 0) {
        fprintf(stderr, "wrk-cert-shim: %s lists no certificate\n", path);
        exit(2);
    }
}

__attribute__((constructor)) static void shim_init(void)
{
    const char *list = getenv("WRK_CLIENT_LIST");
    if (list != NULL && *list != '\0') load_list(list);
}

__attribute__((destructor)) static void shim_report(void)
{
    const char *path = getenv("WRK_TLS_STATS");
    FILE *f;
    if (path == NULL || *path == '\0' || (f = fopen(path, "w")) == NULL) return;
    fprintf(f, "handshakes %lu\nresumed %lu\n", __atomic_load_n(&handshakes, __ATOMIC_RELAXED),
            __atomic_load_n(&resumed, __ATOMIC_RELAXED));
    fclose(f);
}

static void die_ssl(const char *what, const char *file)
{
    fprintf(stderr, "wrk-cert-shim: cannot load %s %s\n", what, file);
    ERR_print_errors_fp(stderr);
    exit(2);
}

SSL_CTX *SSL_CTX_new(const SSL_METHOD *method)
{
    static SSL_CTX *(*real)(const SSL_METHOD *);
    const char *cert = getenv("WRK_CLIENT_CERT"), *key = getenv("WRK_CLIENT_KEY");
    SSL_CTX *ctx;
    if (real == NULL) real = (SSL_CTX * (*)(const SSL_METHOD *)) dlsym(RTLD_NEXT, "SSL_CTX_new");
    ctx = real(method);
    if (ctx == NULL || cert == NULL || key == NULL || *cert == '\0') return ctx;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) die_ssl("certificate chain", cert);
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) die_ssl("private key", key);
    return ctx;
}

/* Before a connection's first handshake step: pick its identity and drop the old session when told to. */
/* Loads identity k into this connection; once more after clearing OpenSSL's error queue if the first try fails. */
static int use_identity(SSL *ssl, size_t k)
{
    return SSL_use_certificate_chain_file(ssl, list_certs[k]) == 1 &&
           SSL_use_PrivateKey_file(ssl, list_keys[k], SSL_FILETYPE_PEM) == 1;
}

static void before_handshake(SSL *ssl)
{
    const char *no_resume = getenv("WRK_NO_RESUME");
    if (list_len > 0) {
        size_t k = __atomic_fetch_add(&next_identity, 1, __ATOMIC_RELAXED) % list_len;
        if (!use_identity(ssl, k)) {
            ERR_clear_error();
            if (!use_identity(ssl, k)) die_ssl("identity", list_certs[k]);
        }
        SSL_set_session(ssl, NULL);
    } else if (no_resume != NULL && strcmp(no_resume, "1") == 0) {
        SSL_set_session(ssl, NULL);
    }
}

int SSL_connect(SSL *ssl)
{
    static int (*real)(SSL *);
    int rc;
    if (real == NULL) real = (int (*)(SSL *)) dlsym(RTLD_NEXT, "SSL_connect");
    if (SSL_in_before(ssl)) before_handshake(ssl);
    rc = real(ssl);
    if (rc == 1) {
        __atomic_fetch_add(&handshakes, 1, __ATOMIC_RELAXED);
        if (SSL_session_reused(ssl)) __atomic_fetch_add(&resumed, 1, __ATOMIC_RELAXED);
    }
    return rc;
}
