/*
 * fuzz_origins.c - fuzz target for config_parse_origin_list() (TG_CORS_ORIGINS) and
 * config_url_origin() (the origin of TG_PUBLIC_URL that browser sessions compare Origin with).
 *
 * The input is the option's value (cut at the first NUL byte). Invariants (abort() when
 * broken):
 *  - success and failure are exclusive: one origin per comma-separated item and at most
 *    CONFIG_MAX_ORIGINS, or nothing and a one-line printable message naming the key;
 *  - every origin is in the serialized form a browser sends (what config_cors_allowed
 *    compares byte for byte): "http://" or "https://", no upper-case letter, no path, query,
 *    user info or blank, a port only when it is not the scheme's default and then 1..65535
 *    without leading zeros, and never longer than the item it came from;
 *  - idempotence: the origins written back (one list, and each alone) parse to themselves;
 *  - config_url_origin() of the input, when it gives one, is in the same serialized form, is
 *    its own origin, and is the origin of itself followed by a path and a query.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/mem.h"
#include "fuzz.h"

#define KEY "TG_CORS_ORIGINS"

static unsigned long accepted, rejected, origins;

static void check_message(const char *err)
{
    size_t n = strlen(err);
    if (strncmp(err, KEY ": ", sizeof KEY + 1) != 0 || n > 400)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] >= 0x7f)
            abort();
}

static void check_origin(const char *o, size_t item_len)
{
    int https = strncmp(o, "https://", 8) == 0;
    const char *h, *port;
    size_t n = strlen(o);
    if (!https && strncmp(o, "http://", 7) != 0)
        abort();
    if (n > item_len || n > 256)
        abort();
    h = o + (https ? 8 : 7);
    if (*h == '\0')
        abort();
    for (const char *p = h; *p; p++)
        if ((*p >= 'A' && *p <= 'Z') || strchr("/?#@ \t,", *p) != NULL || (unsigned char)*p < 0x20 ||
            (unsigned char)*p >= 0x7f)
            abort();
    port = strrchr(h, ']');
    port = strchr(port ? port : h, ':');
    if (port != NULL) {
        long v = 0;
        const char *d = port + 1;
        if (*d < '1' || *d > '9' || strlen(d) > 5)
            abort();
        for (; *d; d++) {
            if (*d < '0' || *d > '9')
                abort();
            v = v * 10 + (*d - '0');
        }
        if (v < 1 || v > 65535 || v == (https ? 443 : 80))
            abort();
    }
}

static void check_reparse(const char *text, char *const *want, size_t n)
{
    char **again = NULL, *err = NULL;
    size_t n2 = 0;
    if (config_parse_origin_list(KEY, text, &again, &n2, &err) != 0 || n2 != n)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (strcmp(again[i], want[i]) != 0)
            abort();
        free(again[i]);
    }
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *val = xstrndup((const char *)data, size);
    char **list = (char **)1, *err = (char *)1;
    size_t n = 99, items = 1;
    struct sbuf b = {0};
    int rc = config_parse_origin_list(KEY, val, &list, &n, &err);

    if (rc == -1) {
        if (list != NULL || n != 0 || err == NULL)
            abort();
        check_message(err);
        rejected++;
        goto cleanup;
    }
    if (rc != 0 || err != NULL || list == NULL)
        abort();
    for (const char *p = val; *p; p++)
        items += *p == ',';
    if (n != items || n > CONFIG_MAX_ORIGINS)
        abort();
    accepted++;
    origins += n;
    const char *s = val;
    for (size_t i = 0; i < n; i++) {
        const char *e = strchr(s, ','), *bgn = s;
        if (e == NULL)
            e = s + strlen(s);
        while (bgn < e && (*bgn == ' ' || *bgn == '\t'))
            bgn++;
        while (e > bgn && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        check_origin(list[i], (size_t)(e - bgn));
        check_reparse(list[i], &list[i], 1);
        sbuf_printf(&b, "%s%s", i ? (i % 2 ? "," : " ,\t") : "", list[i]);
        s = strchr(s, ',');
        s = s ? s + 1 : "";
    }
    check_reparse(b.data, list, n);
cleanup:
    {
        char *o = config_url_origin(val);
        if (o != NULL) {
            check_origin(o, strlen(o));
            char *again = config_url_origin(o);
            char *with_path = xasprintf("%s/a/b?c=d#e", o);
            char *third = config_url_origin(with_path);
            if (again == NULL || strcmp(again, o) != 0 || third == NULL || strcmp(third, o) != 0)
                abort();
            free(again);
            free(third);
            free(with_path);
            free(o);
        }
    }
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            free(list[i]);
        free(list);
    }
    free(rc == 0 ? NULL : err);
    sbuf_free(&b);
    free(val);
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *texts[] = {
        "https://app.example.com",
        "https://A.Example.COM:443/, http://localhost:3000,http://127.0.0.1:80",
        "HTTP://[::1]:8080",
        "https://[2001:DB8::1]",
        "*",
        "https://a.example.com, *",
        "https://a.example.com/app",
        "null",
        "ftp://a.example.com",
        "https://",
        "https://a.example.com:0",
        "https://a.example.com:065535",
        "https://user@a.example.com",
        "https://a.example.com,",
        "http://a:",
        "https://[::1",
        "https://Pay.Example.com:443/tollgate/?x#y",
        "http://127.0.0.1:8080/",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        add((const uint8_t *)texts[i], strlen(texts[i]));
}

void fuzz_report(void)
{
    printf("accepted %lu (%lu origins), rejected %lu\n", accepted, origins, rejected);
}
