/*
 * Unit tests for the payment providers' cryptography: RSA private keys, signing and
 * certificates (src/crypto/rsa.c), AES-256-GCM (src/crypto/aesgcm.c), MD5, CRC-32 and the
 * HMAC vectors of PROVIDERS.md section 11 (src/crypto/hash.c). Keys, the certificate, node's
 * signature and the GCM vectors in data/pay/ were made by tests/fakes/gen_paycrypto_vectors.mjs
 * with node:crypto and openssl, code we did not write.
 */
#include "../test.h"

#include <stdlib.h>

#include "core/mem.h"
#include "crypto/aesgcm.h"
#include "crypto/encode.h"
#include "crypto/hash.h"
#include "crypto/rsa.h"

/* Path of data/pay/<name>. */
static void data_path(const char *name, char *path, size_t cap)
{
    const char *dir = getenv("TEST_DATA_DIR");
    snprintf(path, cap, "%s/pay/%s", dir ? dir : "tests/unit/crypto/data", name);
}

/* Reads data/pay/<name> into a new NUL-terminated buffer; aborts the test run when missing. */
static char *slurp(const char *name, size_t *len)
{
    char path[512];
    FILE *f;
    char *buf;
    long n;

    data_path(name, path, sizeof path);
    f = fopen(path, "rb");
    if (f == NULL) {
        printf("Bail out! cannot open %s (TEST_DATA_DIR)\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = xmalloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        printf("Bail out! cannot read %s\n", path);
        exit(1);
    }
    buf[n] = '\0';
    fclose(f);
    if (len != NULL)
        *len = (size_t)n;
    return buf;
}

static enum rsa_rc load_priv(const char *name, struct rsa_key **k)
{
    size_t len;
    char *text = slurp(name, &len);
    enum rsa_rc rc = rsa_priv_from_pem(text, len, k);
    free(text);
    return rc;
}

/* ---- HMAC, MD5 and CRC-32 vectors (PROVIDERS.md section 11) ---------------------------- */

static void hmac_hex(const char *key, const char *msg, char out[65])
{
    unsigned char mac[32];
    hmac_sha256(key, strlen(key), msg, strlen(msg), mac);
    hex_encode(mac, sizeof mac, out);
}

static void test_vectors(void)
{
    char hex[65], b64[45];
    unsigned char mac[32], d[16];
    /* #3 and #4: WeChat Pay APIv2 sign over stringSignTemp (stringA + "&key=" + API key). */
    const char *v2key = "192006250b4c09247ec02edce69f6a2d";
    const char *v2 =
        "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA"
        "&key=192006250b4c09247ec02edce69f6a2d";
    const char *paypal = "{\"id\":\"WH-1\",\"event_type\":\"PAYMENT.CAPTURE.COMPLETED\"}";

    /* #1: Stripe v1 = hex HMAC-SHA256(secret as is, "t.payload"). */
    hmac_hex("whsec_test_secret", "1700000000.{\"id\":\"evt_test_webhook\",\"object\":\"event\"}", hex);
    CHECK_STR_EQ(hex, "d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990",
                 "#1 Stripe v1 signature");
    /* The secret is used as is: base64-decoding "whsec_..." would give another MAC. */
    hmac_hex("whsec_test_secret", "1700000001.{\"id\":\"evt_test_webhook\",\"object\":\"event\"}", hex);
    CHECK(strcmp(hex, "d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990") != 0,
          "#1 another timestamp gives another signature");

    md5(v2, strlen(v2), d);
    hex_encode_upper(d, sizeof d, hex);
    CHECK_STR_EQ(hex, "9A0A8659F005D6984697E2CA0A9CF3B7", "#3 WeChat Pay v2 MD5 sign");
    hmac_sha256(v2key, strlen(v2key), v2, strlen(v2), mac);
    hex_encode_upper(mac, sizeof mac, hex);
    CHECK_STR_EQ(hex, "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6",
                 "#4 WeChat Pay v2 HMAC-SHA256 sign");
    md5("", 0, d);
    hex_encode(d, sizeof d, hex);
    CHECK_STR_EQ(hex, "d41d8cd98f00b204e9800998ecf8427e", "MD5 of the empty string (RFC 1321 A.5)");
    md5("abc", 3, d);
    hex_encode(d, sizeof d, hex);
    CHECK_STR_EQ(hex, "900150983cd24fb0d6963f7d28e17f72", "MD5 of \"abc\" (RFC 1321 A.5)");

    hmac_hex("whsec_test", "{\"id\":\"evt_1\",\"eventType\":\"checkout.completed\"}", hex);
    CHECK_STR_EQ(hex, "104113ca5239a4efdcbed12ebe2eb95b0d839a84162ada28528a44b62d9d0aa3",
                 "#9 Creem creem-signature");

    hmac_sha256("kie_test_key", 12, "veo_task_abcdef123456.1700000000", 32, mac);
    b64_encode(mac, sizeof mac, b64);
    CHECK_STR_EQ(b64, "UYFcq6jg4IzoH0KdBi0wXgnFBhdsh5C2QJ9yKHhKtfU=", "#11 kie.ai X-Webhook-Signature");

    CHECK_INT_EQ(crc32_ieee("123456789", 9), 0xCBF43926U, "CRC-32 check value of \"123456789\"");
    CHECK_INT_EQ(crc32_ieee("", 0), 0, "CRC-32 of nothing is 0");
    CHECK_INT_EQ(crc32_ieee(paypal, strlen(paypal)), 2325436976U, "#12 PayPal CRC32 of the body");
    CHECK_INT_EQ(crc32_ieee("The quick brown fox jumps over the lazy dog", 43), 0x414FA339U,
                 "CRC-32 of the pangram");
}

/* ---- RSA --------------------------------------------------------------------------------- */

static void test_rsa_private(void)
{
    struct rsa_key *k8 = NULL, *k1 = NULL, *pub = NULL, *k = (struct rsa_key *)1;
    size_t mlen, siglen = 99, nodelen, pemlen;
    char *msg = slurp("wechat_message.txt", &mlen);
    char *node_b64 = slurp("wechat_message.sig.b64", NULL);
    char *pubpem = slurp("rsa2048_pub.pem", &pemlen);
    unsigned char node_sig[512], *sig, *sig1;
    long n;
    char path[512];

    CHECK_INT_EQ(load_priv("rsa2048_pkcs8.pem", &k8), RSA_OK, "PKCS#8 private key loads");
    CHECK_INT_EQ(load_priv("rsa2048_pkcs1.pem", &k1), RSA_OK, "PKCS#1 private key loads");
    CHECK_INT_EQ(rsa_pub_from_pem(pubpem, pemlen, &pub), RSA_OK, "its public key loads");
    CHECK(k8 && k1 && pub, "three keys");
    if (!(k8 && k1 && pub))
        goto cleanup;
    CHECK(rsa_key_is_private(k8) && rsa_key_is_private(k1) && !rsa_key_is_private(pub), "private flags");
    CHECK_INT_EQ(rsa_key_bits(k8), 2048, "2048 bits");

    node_b64[strcspn(node_b64, "\n")] = '\0';
    n = b64_decode(node_b64, strlen(node_b64), node_sig, sizeof node_sig);
    nodelen = n > 0 ? (size_t)n : 0;
    CHECK_INT_EQ(nodelen, 256, "node's signature is 256 bytes");

    /* Node signed the WeChat Pay message; PKCS#1 v1.5 is deterministic, so ours must be
     * byte-identical (which is also what node's verify would accept). */
    sig = rsa_sign_sha256(k8, msg, mlen, &siglen);
    CHECK(sig != NULL && siglen == 256, "sign with the PKCS#8 key: 256 bytes");
    CHECK(sig != NULL && siglen == nodelen && memcmp(sig, node_sig, nodelen) == 0,
          "our signature equals node's crypto.sign");
    sig1 = rsa_sign_sha256(k1, msg, mlen, &siglen);
    CHECK(sig1 != NULL && sig != NULL && memcmp(sig1, sig, 256) == 0,
          "the PKCS#1 form of the same key signs the same");
    CHECK(rsa_verify_sha256(pub, msg, mlen, node_sig, nodelen), "our verify accepts node's signature");
    CHECK(sig && rsa_verify_sha256(pub, msg, mlen, sig, 256), "our verify accepts our signature");
    CHECK(sig && rsa_verify_sha256(k8, msg, mlen, sig, 256), "a private key verifies too");
    msg[0] = 'G'; /* "GOST" instead of "POST" */
    CHECK(sig && !rsa_verify_sha256(pub, msg, mlen, sig, 256), "a changed message does not verify");
    msg[0] = 'P';
    if (sig != NULL) {
        sig[255] ^= 1;
        CHECK(!rsa_verify_sha256(pub, msg, mlen, sig, 256), "a changed signature does not verify");
    }
    free(sig);
    free(sig1);

    sig = rsa_sign_sha256(k8, "", 0, &siglen);
    CHECK(sig != NULL && siglen == 256 && rsa_verify_sha256(pub, "", 0, sig, siglen),
          "an empty message signs and verifies");
    free(sig);

    siglen = 99;
    sig = rsa_sign_sha256(pub, msg, mlen, &siglen);
    CHECK(sig == NULL && siglen == 0, "a public key does not sign");
    sig = rsa_sign_sha256(NULL, msg, mlen, &siglen);
    CHECK(sig == NULL && siglen == 0, "no key does not sign");

    /* From a file (TG_WECHATPAY_PRIVATE_KEY_FILE). */
    data_path("rsa2048_pkcs8.pem", path, sizeof path);
    CHECK_INT_EQ(rsa_priv_from_file(path, &k), RSA_OK, "private key from a file");
    sig = k ? rsa_sign_sha256(k, msg, mlen, &siglen) : NULL;
    CHECK(sig != NULL && memcmp(sig, node_sig, 256) == 0, "the key from the file signs like node");
    free(sig);
    rsa_key_free(k);
    k = (struct rsa_key *)1;
    data_path("no_such_key.pem", path, sizeof path);
    CHECK(rsa_priv_from_file(path, &k) == RSA_MALFORMED && k == NULL, "a missing file is refused, *out NULL");
    k = (struct rsa_key *)1;
    CHECK(rsa_priv_from_file(NULL, &k) == RSA_MALFORMED && k == NULL, "no path is refused");
    data_path("", path, sizeof path); /* a directory */
    CHECK(rsa_priv_from_file(path, &k) == RSA_MALFORMED && k == NULL, "a directory is refused");

cleanup:
    rsa_key_free(k8);
    rsa_key_free(k1);
    rsa_key_free(pub);
    free(msg);
    free(node_b64);
    free(pubpem);
}

static void test_rsa_refused(void)
{
    struct rsa_key *k = (struct rsa_key *)1;
    size_t len;
    char *text;
    char path[512];
    const char *bogus = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";

    CHECK(load_priv("rsa1024_pkcs8.pem", &k) == RSA_WEAK && k == NULL, "1024-bit PKCS#8 key refused as weak");
    k = (struct rsa_key *)1;
    CHECK(load_priv("rsa1024_pkcs1.pem", &k) == RSA_WEAK && k == NULL, "1024-bit PKCS#1 key refused as weak");
    data_path("rsa1024_pkcs8.pem", path, sizeof path);
    CHECK(rsa_priv_from_file(path, &k) == RSA_WEAK && k == NULL, "1024-bit key file refused as weak");
    CHECK(load_priv("ec256_pkcs8.pem", &k) == RSA_MALFORMED && k == NULL, "an EC private key is not RSA");
    CHECK(load_priv("rsa2048_enc.pem", &k) == RSA_MALFORMED && k == NULL,
          "an encrypted key is refused, no prompt");
    CHECK(load_priv("rsa2048_pub.pem", &k) == RSA_MALFORMED && k == NULL,
          "a public key is not a private key");
    CHECK(load_priv("rsa2048_cert.pem", &k) == RSA_MALFORMED && k == NULL,
          "a certificate is not a private key");
    CHECK(rsa_priv_from_pem(bogus, strlen(bogus), &k) == RSA_MALFORMED && k == NULL, "garbage PEM refused");
    CHECK(rsa_priv_from_pem("", 0, &k) == RSA_MALFORMED && k == NULL, "empty text refused");

    /* Over RSA_PEM_MAX: refused before parsing, even though the key inside is good. */
    text = slurp("rsa2048_pkcs8.pem", &len);
    {
        size_t big = RSA_PEM_MAX + 1;
        char *padded = xmalloc(big);
        memset(padded, '\n', big);
        memcpy(padded, text, len);
        CHECK(rsa_priv_from_pem(padded, big, &k) == RSA_MALFORMED && k == NULL,
              "PEM over RSA_PEM_MAX refused");
        CHECK(rsa_priv_from_pem(padded, RSA_PEM_MAX, &k) == RSA_OK && k != NULL,
              "the same at RSA_PEM_MAX loads");
        rsa_key_free(k);
        free(padded);
    }
    /* A private key never loads through the public loaders. */
    CHECK(rsa_pub_from_pem(text, len, &k) == RSA_MALFORMED && k == NULL,
          "private PEM refused by rsa_pub_from_pem");
    free(text);
}

static void test_rsa_cert(void)
{
    struct rsa_key *k = NULL, *priv = NULL;
    char serial[RSA_SERIAL_HEX_MAX];
    size_t len, mlen;
    char *pem = slurp("rsa2048_cert.pem", &len);
    char *want = slurp("rsa2048_cert.serial", NULL);
    char *msg = slurp("wechat_message.txt", &mlen);
    char *b64 = slurp("wechat_message.sig.b64", NULL);
    unsigned char sig[512];
    long n;

    want[strcspn(want, "\n")] = '\0';
    b64[strcspn(b64, "\n")] = '\0';
    n = b64_decode(b64, strlen(b64), sig, sizeof sig);
    CHECK_INT_EQ(rsa_pub_from_cert_pem(pem, len, &k, serial), RSA_OK, "certificate loads");
    CHECK_STR_EQ(serial, want, "serial in upper-case hex as WeChat Pay prints it");
    CHECK_STR_EQ(serial, "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C", "the serial openssl was given");
    CHECK(k != NULL && !rsa_key_is_private(k) && rsa_key_bits(k) == 2048, "a 2048-bit public key");
    CHECK(k != NULL && n == 256 && rsa_verify_sha256(k, msg, mlen, sig, 256),
          "the certificate's key verifies node's signature");
    rsa_key_free(k);
    free(pem);

    pem = slurp("rsa2048_cert_short.pem", &len);
    CHECK_INT_EQ(rsa_pub_from_cert_pem(pem, len, &k, serial), RSA_OK, "second certificate loads");
    CHECK_STR_EQ(serial, "F00000000000000000000000000000000000001",
                 "serial 0x0F... printed without the leading zero");
    rsa_key_free(k);
    free(pem);

    /* Keys and junk are not certificates. */
    pem = slurp("rsa2048_pub.pem", &len);
    k = (struct rsa_key *)1;
    CHECK(rsa_pub_from_cert_pem(pem, len, &k, serial) == RSA_MALFORMED && k == NULL && serial[0] == '\0',
          "a public key is not a certificate; serial emptied");
    free(pem);
    pem = slurp("rsa2048_pkcs8.pem", &len);
    CHECK(rsa_pub_from_cert_pem(pem, len, &k, serial) == RSA_MALFORMED && k == NULL,
          "a private key is not a certificate");
    CHECK_INT_EQ(load_priv("rsa2048_pkcs8.pem", &priv), RSA_OK, "private key for the freeing check");
    rsa_key_free(priv);
    rsa_key_free(NULL);
    CHECK(1, "freeing a private key and NULL");
    free(pem);
    free(want);
    free(msg);
    free(b64);
}

/* ---- AES-256-GCM ------------------------------------------------------------------------- */

/* The vector of PROVIDERS.md 2.3 (Python cryptography's AESGCM; decrypted by npm
 * wechatpay-node-v3 decipher_gcm). */
static const char *const wx_key = "0123456789abcdef0123456789abcdef";
static const char *const wx_ct =
    "+tSPbcTuImKCeoT++ZOmkTmVj0SC15q6arss1NBZL164w/abmt54usZG+EOE3YC4e8mO9rjgfFQFJkgsvyC/"
    "jLUkkXU0xD4k8q0Jj6JfRsjUGVmQSXs4hcKDXpZ2"
    "SqjS+IF1VJwJrSFO8QFZKL52YCoikqDr/DXsHyj8p8WMdJ6rUp1O+6A3oaPHroppY3epETF/mSc4Rlmcaw7/"
    "ZzXc2QKp1ER+pWFIcvJgNSe3HN8p98HdroND"
    "yJBlwzHe2QNVI/"
    "+sfGLrBDc+MMiLJTg46lURgesFM6GnC5bX9LD0sqqyFwA8Qz4sVZhouAuNDuZqcez3iM6vbvrWeKdCkZ3KHpZ+"
    "wuDP7qHMRQLS5gpEUiapop"
    "yyb306LSMJNKWTTKQ40aC2+4vzoM2RT6rt5S6bgIOF6plvPxB2yEp4Zts1ODImO90B8CIaxaZI6U8INKAhgzk2oMZ/"
    "LDYRLjw41x9daqBWp2dagXFzmcY4ysiO"
    "+N57LUzoQg5SHYol0sWT1WEM5LLnATy6SNIhTQ==";
static const char *const wx_plain = "{\"mchid\":\"1230000109\",\"appid\":\"wxd678efh567hg6787\",\"out_trade_"
                                    "no\":\"ord_123\",\"transaction_id\":"
                                    "\"4200000000202401010000000001\",\"trade_type\":\"NATIVE\",\"trade_"
                                    "state\":\"SUCCESS\",\"trade_state_desc\":"
                                    "\"\xe6\x94\xaf\xe4\xbb\x98\xe6\x88\x90\xe5\x8a\x9f\",\"success_time\":"
                                    "\"2024-01-01T10:00:00+08:00\",\"payer\":{\"openid\":"
                                    "\"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o\"},\"amount\":{\"total\":100,\"payer_"
                                    "total\":100,\"currency\":\"CNY\",\"payer_currency\":"
                                    "\"CNY\"}}";

static void test_gcm_published(void)
{
    size_t n = 99;
    char *p = aesgcm_decrypt_b64(wx_key, 32, "abcdef012345", 12, "transaction", 11, wx_ct, strlen(wx_ct), &n);
    CHECK(p != NULL, "#5 WeChat Pay resource decrypts");
    CHECK_INT_EQ(n, 378, "#5 378 bytes of plaintext");
    CHECK_STR_EQ(p, wx_plain, "#5 the documented plaintext");
    free(p);

    n = 99;
    p = aesgcm_decrypt_b64(wx_key, 32, "abcdef012345", 12, "refund", 6, wx_ct, strlen(wx_ct), &n);
    CHECK(p == NULL && n == 0, "#5 other associated data: refused");
    p = aesgcm_decrypt_b64(wx_key, 32, "abcdef012346", 12, "transaction", 11, wx_ct, strlen(wx_ct), &n);
    CHECK(p == NULL && n == 0, "#5 other nonce: refused");
    p = aesgcm_decrypt_b64("0123456789abcdef0123456789abcdeF", 32, "abcdef012345", 12, "transaction", 11,
                           wx_ct, strlen(wx_ct), &n);
    CHECK(p == NULL && n == 0, "#5 other key: refused");
    p = aesgcm_decrypt_b64(wx_key, 32, "fdasflkja484w", 13, "transaction", 11, wx_ct, strlen(wx_ct), &n);
    CHECK(p == NULL && n == 0, "#5 a 13-byte nonce is refused");
    p = aesgcm_decrypt_b64(wx_key, 31, "abcdef012345", 12, "transaction", 11, wx_ct, strlen(wx_ct), &n);
    CHECK(p == NULL && n == 0, "#5 a 31-byte key is refused");
    p = aesgcm_decrypt_b64(wx_key, 32, "abcdef012345", 12, "transaction", 11, wx_ct, strlen(wx_ct) - 1, &n);
    CHECK(p == NULL && n == 0, "#5 broken base64 is refused");
    p = aesgcm_decrypt_b64(wx_key, 32, "abcdef012345", 12, "transaction", 11, "", 0, &n);
    CHECK(p == NULL && n == 0, "#5 empty ciphertext (no tag) is refused");
}

/* Decodes a hex field of gcm_vectors.txt ("-" is empty) into a new buffer. */
static unsigned char *unhex(const char *h, size_t *n)
{
    size_t len = strcmp(h, "-") == 0 ? 0 : strlen(h);
    unsigned char *out = xmalloc(len / 2 + 1);
    if (hex_decode(h, len, out, len / 2) != 0) {
        printf("Bail out! bad hex in gcm_vectors.txt\n");
        exit(1);
    }
    *n = len / 2;
    return out;
}

static void test_gcm_node(void)
{
    char *text = slurp("gcm_vectors.txt", NULL), *line, *save = NULL;
    int count = 0;

    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char *f[5], *s2 = NULL;
        size_t aadn, pn, ctn, i;
        unsigned char *aad, *pt, *ct, *out, *enc;
        long got;
        int k;

        if (line[0] == '#')
            continue;
        for (k = 0; k < 5; k++)
            f[k] = strtok_r(k == 0 ? line : NULL, " ", &s2);
        if (f[4] == NULL) {
            printf("Bail out! short line in gcm_vectors.txt\n");
            exit(1);
        }
        count++;
        aad = unhex(f[2], &aadn);
        pt = unhex(f[3], &pn);
        ct = xmalloc(strlen(f[4]));
        got = b64_decode(f[4], strlen(f[4]), ct, strlen(f[4]));
        ctn = got > 0 ? (size_t)got : 0;
        CHECK_INT_EQ(ctn, pn + AESGCM_TAG_LEN, "node vector %d: ciphertext is plaintext + 16", count);
        out = xmalloc(pn + 1);
        got = aesgcm_decrypt(f[0], strlen(f[0]), f[1], strlen(f[1]), aad, aadn, ct, ctn, out, pn);
        CHECK(got == (long)pn && memcmp(out, pt, pn) == 0, "node vector %d: decrypts to node's plaintext",
              count);
        enc = xmalloc(ctn);
        got = aesgcm_encrypt(f[0], strlen(f[0]), f[1], strlen(f[1]), aad, aadn, pt, pn, enc, ctn);
        CHECK(got == (long)ctn && memcmp(enc, ct, ctn) == 0, "node vector %d: encrypts to node's ciphertext",
              count);

        /* Every single-bit change of ciphertext or tag fails, and leaves no plaintext. */
        for (i = 0; i < ctn; i += (ctn > 64 ? 61 : 1)) {
            ct[i] ^= 0x80;
            memset(out, 0xAA, pn + 1);
            got = aesgcm_decrypt(f[0], 32, f[1], 12, aad, aadn, ct, ctn, out, pn);
            ct[i] ^= 0x80;
            if (got != -1)
                break;
            for (k = 0; (size_t)k < pn && out[k] == 0; k++)
                ;
            if ((size_t)k != pn)
                break;
        }
        CHECK(i >= ctn, "node vector %d: altered bytes refused, output zeroed", count);
        /* Truncated: a byte short, or the tag alone cut to 15 bytes. */
        CHECK_INT_EQ(aesgcm_decrypt(f[0], 32, f[1], 12, aad, aadn, ct, ctn - 1, out, pn), -1,
                     "node vector %d: truncated by a byte refused", count);
        CHECK_INT_EQ(aesgcm_decrypt(f[0], 32, f[1], 12, aad, aadn, ct + pn, AESGCM_TAG_LEN - 1, out, pn), -1,
                     "node vector %d: 15 bytes refused", count);
        if (pn > 0)
            CHECK_INT_EQ(aesgcm_decrypt(f[0], 32, f[1], 12, aad, aadn, ct, ctn, out, pn - 1), -1,
                         "node vector %d: output one byte short refused", count);
        if (aadn > 0)
            CHECK_INT_EQ(aesgcm_decrypt(f[0], 32, f[1], 12, NULL, 0, ct, ctn, out, pn), -1,
                         "node vector %d: dropping the associated data refused", count);
        free(aad);
        free(pt);
        free(ct);
        free(out);
        free(enc);
    }
    CHECK_INT_EQ(count, 5, "five node vectors");
    free(text);
}

static void test_gcm_bounds(void)
{
    const char *key = "0123456789abcdef0123456789abcdef", *nonce = "abcdef012345";
    size_t big = AESGCM_MAX_LEN + 1;
    unsigned char *plain = xmalloc(big), *ct = xmalloc(big + AESGCM_TAG_LEN), *out = xmalloc(big);
    unsigned char tagonly[AESGCM_TAG_LEN];

    memset(plain, 'x', big);
    CHECK_INT_EQ(aesgcm_encrypt(key, 32, nonce, 12, NULL, 0, plain, big - 1, ct, big + AESGCM_TAG_LEN),
                 (long)(big - 1 + AESGCM_TAG_LEN), "AESGCM_MAX_LEN bytes encrypt");
    CHECK_INT_EQ(aesgcm_decrypt(key, 32, nonce, 12, NULL, 0, ct, big - 1 + AESGCM_TAG_LEN, out, big),
                 (long)(big - 1), "and decrypt");
    CHECK_INT_EQ(aesgcm_encrypt(key, 32, nonce, 12, NULL, 0, plain, big, ct, big + AESGCM_TAG_LEN), -1,
                 "one byte over AESGCM_MAX_LEN refused (encrypt)");
    CHECK_INT_EQ(aesgcm_decrypt(key, 32, nonce, 12, NULL, 0, ct, big + AESGCM_TAG_LEN, out, big), -1,
                 "one byte over AESGCM_MAX_LEN refused (decrypt)");
    CHECK_INT_EQ(aesgcm_encrypt(key, 32, nonce, 12, plain, big, plain, 1, ct, 64), -1,
                 "associated data over the bound refused");
    CHECK_INT_EQ(aesgcm_encrypt(key, 32, nonce, 12, NULL, 0, plain, 10, ct, 25), -1,
                 "output without room for the tag refused");
    CHECK_INT_EQ(aesgcm_encrypt(key, 32, nonce, 16, NULL, 0, plain, 10, ct, 64), -1, "16-byte nonce refused");
    CHECK_INT_EQ(aesgcm_encrypt(key, 16, nonce, 12, NULL, 0, plain, 10, ct, 64), -1,
                 "AES-128 key length refused");
    /* Empty plaintext: the tag alone authenticates the associated data. */
    CHECK_INT_EQ(aesgcm_encrypt(key, 32, nonce, 12, "certificate", 11, NULL, 0, tagonly, sizeof tagonly),
                 AESGCM_TAG_LEN, "empty plaintext gives the tag alone");
    CHECK_INT_EQ(aesgcm_decrypt(key, 32, nonce, 12, "certificate", 11, tagonly, sizeof tagonly, NULL, 0), 0,
                 "and the tag alone verifies");
    tagonly[0] ^= 1;
    CHECK_INT_EQ(aesgcm_decrypt(key, 32, nonce, 12, "certificate", 11, tagonly, sizeof tagonly, NULL, 0), -1,
                 "a wrong tag alone is refused");
    free(plain);
    free(ct);
    free(out);
}

int main(void)
{
    test_vectors();
    test_rsa_private();
    test_rsa_refused();
    test_rsa_cert();
    test_gcm_published();
    test_gcm_node();
    test_gcm_bounds();
    return test_done();
}
