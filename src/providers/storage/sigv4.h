/*
 * sigv4.h - AWS Signature Version 4 (the "AWS4-HMAC-SHA256" algorithm), as AWS S3 and
 * Aliyun OSS's S3-compatible API accept it: header signing (an Authorization header) and
 * query presigning (X-Amz-* parameters on a URL), built on crypto/hash.h and crypto/encode.h.
 *
 * Reference: "Signature Version 4 signing process" and "Authenticating Requests: Using Query
 * Parameters (AWS Signature Version 4)" in the AWS documentation. Checked against AWS's
 * signature test suite and the S3 examples (tests/unit/providers/test_sigv4.c) and
 * byte-for-byte against @aws-sdk/s3-request-presigner (tests/e2e/storage_presign.test.mjs).
 */
#ifndef TG_PROVIDERS_STORAGE_SIGV4_H
#define TG_PROVIDERS_STORAGE_SIGV4_H

#include <stddef.h>
#include <stdint.h>

/* A name and a value, both raw (not percent-encoded). */
struct sigv4_kv {
    const char *name;
    const char *value;
};

struct sigv4_cred {
    const char *access_key_id;
    const char *secret_access_key;
    const char *region;  /* "us-east-1" */
    const char *service; /* "s3" */
};

/* What is signed of a request. */
struct sigv4_req {
    const char *method;
    const char *path;                  /* the URI path as sent: already percent-encoded ("/a%20b") */
    const struct sigv4_kv *query;      /* raw names and values; may be NULL when n_query is 0 */
    size_t n_query;
    const struct sigv4_kv *headers;    /* every signed header, host included; names in any case */
    size_t n_headers;
    const char *payload_hash;          /* lower-case hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
};

#define SIGV4_DATE_LEN 16 /* "20130524T000000Z" */
#define SIGV4_MAX_ITEMS 32 /* query parameters or headers of one request */

/* t (Unix seconds) as the x-amz-date text "YYYYMMDDTHHMMSSZ" into out (room for 17). */
void sigv4_amz_date(int64_t t, char out[SIGV4_DATE_LEN + 1]);

/*
 * The canonical request of r (steps 1 of the signing process): new string, caller frees.
 * *signed_headers receives the "host;x-amz-date" list (new string, caller frees), when not
 * NULL. Returns NULL when r has more than SIGV4_MAX_ITEMS query parameters or headers.
 */
char *sigv4_canonical_request(const struct sigv4_req *r, char **signed_headers);

/* The lower-case hex signature of r at amz_date into sig (65 bytes). *signed_headers as
 * above (may be NULL). Returns 0, or -1 when r is too large. */
int sigv4_sign(const struct sigv4_cred *c, const char *amz_date, const struct sigv4_req *r, char sig[65],
               char **signed_headers);

/*
 * Header signing: the Authorization header value for r, whose headers must include
 * x-amz-date (= amz_date) and host. New string, caller frees; NULL when r is too large.
 */
char *sigv4_authorization(const struct sigv4_cred *c, const char *amz_date, const struct sigv4_req *r);

/*
 * Query presigning: adds X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
 * X-Amz-SignedHeaders (and X-Amz-Content-Sha256=UNSIGNED-PAYLOAD when s3_unsigned_payload,
 * as the AWS SDK's S3 presigner does) to r's query, signs with payload UNSIGNED-PAYLOAD
 * (r->payload_hash is ignored) and returns the whole query string, parameters sorted by
 * name with X-Amz-Signature among them, without the leading '?'. New string, caller frees;
 * NULL when r is too large.
 */
char *sigv4_presign_query(const struct sigv4_cred *c, const char *amz_date, int64_t expires_s,
                          const struct sigv4_req *r, int s3_unsigned_payload);

#endif
