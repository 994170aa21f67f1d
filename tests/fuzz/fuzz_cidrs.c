/*
 * fuzz_cidrs.c - fuzz target for config_parse_cidr_list() (TG_TRUSTED_PROXIES).
 *
 * The input is the option's value (cut at the first NUL byte, as the environment would).
 * Invariants (abort() when broken):
 *  - success and failure are exclusive: a list with one entry per comma-separated item and at
 *    most CONFIG_MAX_PROXIES, or no list and a one-line printable message naming the key;
 *  - every network is canonical: a known family, a prefix within the family's width, no bits
 *    set beyond the prefix, IPv4 bytes beyond the fourth zero, and no IPv4-mapped IPv6
 *    network of /96 or longer (those are IPv4);
 *  - round trip: the networks written back as "address/prefix" parse to the same networks;
 *  - the network address of an accepted item is the item's own address masked, i.e. what
 *    was written, not a guess (checked against inet_pton and a bitwise mask here).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/config.h"
#include "core/mem.h"
#include "fuzz.h"

#define KEY "TG_TRUSTED_PROXIES"

static unsigned long accepted, rejected, networks;

static void check_message(const char *err)
{
    size_t n = strlen(err);
    if (strncmp(err, KEY ": ", sizeof KEY + 1) != 0 || n > 400)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] >= 0x7f)
            abort();
}

static void check_network(const struct tg_cidr *c)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    int bits = c->family == AF_INET ? 32 : c->family == AF_INET6 ? 128 : -1;
    if (bits < 0 || c->prefix_len < 0 || c->prefix_len > bits)
        abort();
    for (int i = c->prefix_len; i < 128; i++)
        if (c->addr[i / 8] & (0x80 >> (i % 8)))
            abort();
    if (c->family == AF_INET6 && c->prefix_len >= 96 && memcmp(c->addr, mapped, 12) == 0)
        abort();
}

/* The network an item "addr[/len]" (already trimmed) stands for, computed independently. */
static int expected_network(const char *item, size_t n, struct tg_cidr *want)
{
    char buf[128];
    const char *slash;
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, item, n);
    buf[n] = '\0';
    slash = strchr(buf, '/');
    memset(want, 0, sizeof *want);
    if (slash)
        buf[slash - buf] = '\0';
    if (inet_pton(AF_INET, buf, want->addr) == 1) {
        want->family = AF_INET;
        want->prefix_len = 32;
    } else if (inet_pton(AF_INET6, buf, want->addr) == 1) {
        want->family = AF_INET6;
        want->prefix_len = 128;
    } else {
        return -1;
    }
    if (slash)
        want->prefix_len = atoi(slash + 1);
    if (want->family == AF_INET6 && want->prefix_len >= 96 &&
        memcmp(want->addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
        memmove(want->addr, want->addr + 12, 4);
        memset(want->addr + 4, 0, 12);
        want->family = AF_INET;
        want->prefix_len -= 96;
    }
    return 0;
}

static int same(const struct tg_cidr *a, const struct tg_cidr *b)
{
    return a->family == b->family && a->prefix_len == b->prefix_len && memcmp(a->addr, b->addr, 16) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *val = xstrndup((const char *)data, size);
    struct tg_cidr *list = (struct tg_cidr *)1, *again = NULL;
    size_t n = 99, n2 = 0, items = 1;
    char *err = (char *)1, *err2 = NULL;
    struct sbuf b = {0};
    int rc = config_parse_cidr_list(KEY, val, &list, &n, &err);

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
    if (n != items || n > CONFIG_MAX_PROXIES)
        abort();
    accepted++;
    networks += n;
    const char *s = val;
    for (size_t i = 0; i < n; i++) {
        char text[INET6_ADDRSTRLEN];
        const char *e = strchr(s, ','), *bgn = s;
        struct tg_cidr want;
        if (e == NULL)
            e = s + strlen(s);
        while (bgn < e && (*bgn == ' ' || *bgn == '\t'))
            bgn++;
        while (e > bgn && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        check_network(&list[i]);
        /* Accepted items have no host bits, so the address as written is the network. */
        if (expected_network(bgn, (size_t)(e - bgn), &want) != 0 || !same(&want, &list[i]))
            abort();
        if (inet_ntop(list[i].family, list[i].addr, text, sizeof text) == NULL)
            abort();
        sbuf_printf(&b, "%s%s/%d", i ? (i % 2 ? "," : " , ") : "", text, list[i].prefix_len);
        s = strchr(s, ',');
        s = s ? s + 1 : "";
    }
    if (config_parse_cidr_list(KEY, b.data, &again, &n2, &err2) != 0 || n2 != n)
        abort();
    for (size_t i = 0; i < n; i++)
        if (!same(&list[i], &again[i]))
            abort();
cleanup:
    free(again);
    free(err2);
    free(err);
    free(list);
    sbuf_free(&b);
    free(val);
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *texts[] = {
        "127.0.0.1/32,::1/128",
        "10.0.0.0/8, 192.168.1.7,fd00::/8 , ::1,2001:db8::/32",
        "0.0.0.0/0",
        "::/0",
        "::ffff:192.168.0.0/112",
        "::ffff:0:0/95",
        "10.1.2.3/8",
        "2001:db8::1/32",
        "10.0.0.0/33",
        "1.2.3.4/-1",
        "1.2.3.4/+8",
        "1.2.3.4/008",
        "10.0.0.0/8,,1.1.1.1",
        "10.0.0.0/8,",
        "\t172.16.0.0/12\t",
        "fe80::1%eth0",
        "1.2.3.4/32/32",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        add((const uint8_t *)texts[i], strlen(texts[i]));
}

void fuzz_report(void)
{
    printf("accepted %lu (%lu networks), rejected %lu\n", accepted, networks, rejected);
}
