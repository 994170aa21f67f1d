/*
 * accounts.c - email, password and display name rules (see accounts.h).
 */
#include "domain/accounts.h"

#include <stdint.h>
#include <string.h>

#include "core/utf8.h"

/* The six ASCII whitespace bytes of C's isspace() in the "C" locale. Spelled out because
 * isspace() depends on the locale and is undefined for negative chars. */
static int acc_is_ascii_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Unicode White_Space code points (Unicode 15 PropList.txt). */
static int acc_is_unicode_space(uint32_t cp)
{
    if (cp < 0x80)
        return acc_is_ascii_space((unsigned char)cp);
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* C0 controls, DEL and the C1 block: invisible, and some (CR, LF) break log lines and
 * mail headers wherever a name is echoed. */
static int acc_is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

/* The bidi formatting characters of UAX #9: ALM, LRM, RLM, the embeddings and overrides
 * LRE..RLO with their PDF, and the isolates LRI..PDI. */
static int acc_is_bidi_control(uint32_t cp)
{
    return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * General category Cf (Unicode 15 DerivedGeneralCategory.txt) together with the
 * Default_Ignorable_Code_Point property (DerivedCoreProperties.txt): the characters a
 * renderer shows as nothing, or that steer how neighbouring text is shown. Includes the
 * unassigned code points Unicode reserves as default ignorable, so that characters assigned
 * there later are invisible in today's fonts and refused today.
 */
static int acc_is_invisible(uint32_t cp)
{
    static const struct {
        uint32_t lo, hi;
    } ranges[] = {
        {0x00AD, 0x00AD},   {0x034F, 0x034F},   {0x0600, 0x0605},   {0x061C, 0x061C},   {0x06DD, 0x06DD},
        {0x070F, 0x070F},   {0x0890, 0x0891},   {0x08E2, 0x08E2},   {0x115F, 0x1160},   {0x17B4, 0x17B5},
        {0x180B, 0x180F},   {0x200B, 0x200F},   {0x202A, 0x202E},   {0x2060, 0x206F},   {0x3164, 0x3164},
        {0xFE00, 0xFE0F},   {0xFEFF, 0xFEFF},   {0xFFA0, 0xFFA0},   {0xFFF0, 0xFFFB},   {0x110BD, 0x110BD},
        {0x110CD, 0x110CD}, {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0000, 0xE0FFF},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (cp >= ranges[i].lo && cp <= ranges[i].hi)
            return 1;
    return 0;
}

/* ZERO WIDTH NON-JOINER and ZERO WIDTH JOINER. */
static int acc_is_joiner(uint32_t cp)
{
    return cp == 0x200C || cp == 0x200D;
}

/* Variation selectors VS1..VS16 and the Mongolian free variation selectors: each picks a
 * glyph variant of the character before it (VS16 asks for the emoji form: U+2764 U+FE0F). */
static int acc_is_selector(uint32_t cp)
{
    return (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0x180B && cp <= 0x180D) || cp == 0x180F;
}

/* What trimming removes around a name: Unicode White_Space minus NEL (a C1 control) and the
 * line and paragraph separators (refused anywhere: they break a log line in two). */
static int acc_is_trim_space(uint32_t cp)
{
    return acc_is_unicode_space(cp) && cp != 0x85 && cp != 0x2028 && cp != 0x2029;
}

/* Finds the span of s without leading/trailing ASCII whitespace. */
static void acc_trim(const char *s, const char **start, size_t *len)
{
    size_t n = strlen(s);
    size_t a = 0;
    while (a < n && acc_is_ascii_space((unsigned char)s[a]))
        a++;
    while (n > a && acc_is_ascii_space((unsigned char)s[n - 1]))
        n--;
    *start = s + a;
    *len = n - a;
}

/* One DNS label of an email domain: 1..63 bytes (RFC 1035) of [a-z0-9-], no '-' at either
 * end (RFC 952/1123 host names). Internationalized domains arrive as punycode ("xn--"). */
static int acc_label_ok(const char *l, size_t n)
{
    if (n == 0 || n > 63 || l[0] == '-' || l[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = l[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

/*
 * One character of a local part. RFC 5322 also allows quoted strings ("ada"@), backslash
 * escapes, comments in parentheses and, in RFC 5321, source routes: each is a second
 * spelling of a mailbox a plain address already names ("ada"@example.com is delivered to
 * ada@example.com), so one person could hold two accounts on one mailbox, or an attacker an
 * account whose address reads like someone else's. Only a dot-atom is accepted, over atext
 * (RFC 5322 3.2.3) minus '%' and '!': "ada%example.org@relay" and "host!ada@relay" are
 * the percent-hack and bang-path routes through a relay (RFC 1123 5.2.16, RFC 5321
 * Appendix C) that some mail systems still follow. '+' stays: ada+tag@ is a mailbox of its
 * own as far as we can know, and people use it.
 */
static int acc_local_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           (c != '\0' && strchr("#$&'*+-/=?^_`{|}~", c) != NULL);
}

int accounts_email_normalize(const char *in, char out[TG_EMAIL_MAX + 1], const char **reason)
{
    int ret = -1;
    const char *why = NULL;
    const char *s;
    size_t n;

    out[0] = '\0';
    acc_trim(in, &s, &n);
    if (n == 0) {
        why = "The email address is empty.";
        goto cleanup;
    }
    if (n > TG_EMAIL_MAX) {
        why = "The email address is too long.";
        goto cleanup;
    }
    size_t at = n, n_at = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* Printable ASCII only: this also rejects spaces, controls and non-ASCII bytes
         * (SMTPUTF8 local parts are rare and most mail systems refuse them). */
        if (c <= 0x20 || c >= 0x7F) {
            why = "The email address contains spaces or characters that are not allowed.";
            goto cleanup;
        }
        char lc = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : (char)c;
        out[i] = lc;
        if (lc == '@') {
            n_at++;
            at = i;
        }
    }
    out[n] = '\0';
    if (n_at != 1) {
        why = "The email address must contain exactly one '@'.";
        goto cleanup;
    }
    size_t local_len = at, dom_len = n - at - 1;
    if (local_len < 1 || local_len > 64) {
        why = "The part before '@' must be 1 to 64 characters long.";
        goto cleanup;
    }
    if (dom_len < 1 || dom_len > 253) {
        why = "The domain must be 1 to 253 characters long.";
        goto cleanup;
    }
    for (size_t i = 0; i < local_len; i++) {
        if (!acc_local_char_ok(out[i])) {
            why = "The part before '@' may contain letters, digits, dots and characters such as - _ + ' "
                  "but no quotes, brackets, backslashes, commas, '%' or '!'.";
            goto cleanup;
        }
    }
    if (out[0] == '.' || out[local_len - 1] == '.' || memmem(out, local_len, "..", 2) != NULL) {
        why = "The part before '@' must not start or end with a dot or contain two dots in a row.";
        goto cleanup;
    }
    const char *dom = out + at + 1;
    if (memchr(dom, '.', dom_len) == NULL) {
        why = "The domain must contain a dot.";
        goto cleanup;
    }
    const char *label = dom, *last = dom;
    for (size_t i = 0; i <= dom_len; i++) {
        if (i == dom_len || dom[i] == '.') {
            if (!acc_label_ok(label, (size_t)(dom + i - label))) {
                why = "The domain is not a valid host name.";
                goto cleanup;
            }
            last = label;
            label = dom + i + 1;
        }
    }
    /* An all-numeric last label makes "ada@192.0.2.1": an IP address, not a host name,
     * that some mail systems would deliver to like the literal ada@[192.0.2.1]. No
     * top-level domain is all-numeric (RFC 3696 section 2). */
    if (strspn(last, "0123456789") == (size_t)(dom + dom_len - last)) {
        why = "The domain is not a valid host name.";
        goto cleanup;
    }
    ret = 0;

cleanup:
    if (ret != 0)
        out[0] = '\0';
    if (reason)
        *reason = why;
    return ret;
}

int accounts_password_check(const char *pw, size_t len, const char **reason)
{
    int ret = -1;
    const char *why = NULL;
    const unsigned char *p = (const unsigned char *)pw;
    size_t chars = 0, spaces = 0;

    if (len < ACCOUNTS_PASSWORD_MIN_BYTES) {
        why = "The password must be at least 8 characters long.";
        goto cleanup;
    }
    if (len > ACCOUNTS_PASSWORD_MAX_BYTES) {
        why = "The password must be at most 256 bytes long.";
        goto cleanup;
    }
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = utf8_next(p + i, len - i, &cp);
        if (k == 0 || cp == 0) {
            why = "The password must be valid UTF-8 text.";
            goto cleanup;
        }
        chars++;
        if (acc_is_unicode_space(cp))
            spaces++;
        i += k;
    }
    if (chars < ACCOUNTS_PASSWORD_MIN_CHARS) {
        why = "The password must be at least 8 characters long.";
        goto cleanup;
    }
    if (spaces == chars) {
        why = "The password must not consist only of spaces.";
        goto cleanup;
    }
    ret = 0;

cleanup:
    if (reason)
        *reason = why;
    return ret;
}

/*
 * Display names (and API key names) are shown to other people: in the admin UI, the audit
 * log, exports. A name must not be able to reorder, hide or break the text around it, so:
 *  - bidi controls are refused: U+202E makes "admin[RLO]gnp.exe" read "adminexe.png", and
 *    an unclosed embedding or isolate keeps reordering whatever follows the name on the line;
 *  - U+2028 and U+2029 are refused like CR and LF: they end a line in JavaScript, JSON
 *    consumers and log viewers;
 *  - every other format (Cf) or default-ignorable character is refused: zero width space,
 *    word joiner, BOM, soft hyphen, tag characters (which spell hidden ASCII text that
 *    language models read and people do not), Hangul fillers (which render as nothing and
 *    give a name that looks empty), ideographic variation selectors (about 8 invisible bits
 *    per character, and names read correctly without them);
 *  - except the two joiners and the variation selectors VS1..VS16 and FVS1..FVS4, which
 *    real names and emoji need (Persian and Indic spelling uses ZWNJ/ZWJ, Mongolian the
 *    FVS; "woman technologist" is U+1F469 ZWJ U+1F4BB; a red heart is U+2764 VS16). Each
 *    is accepted only bound to visible characters: a selector right after a visible
 *    character, a joiner between a visible character (or its selector) and a visible one.
 *    So no run of invisible characters, no invisible character at either end, and no name
 *    made only of invisible characters.
 * Unicode spaces around the name are trimmed like ASCII ones, so that a name of U+3000 or
 * NBSP only becomes "" (which API key names refuse) instead of a blank label.
 * Strong right-to-left letters (Arabic, Hebrew) are legitimate and still affect how the
 * neutral text next to them is ordered: whoever displays names inside other text isolates
 * them (<bdi>, or FSI..PDI in plain text).
 */
int accounts_display_name_normalize(const char *in, char out[TG_NAME_MAX + 1], const char **reason)
{
    int ret = -1;
    const char *why = NULL;
    const char *t;
    size_t n, start, end;

    out[0] = '\0';
    acc_trim(in, &t, &n);
    const unsigned char *s = (const unsigned char *)t;
    /* Pass 1: valid UTF-8 throughout; [start, end) is the name without Unicode spaces. */
    start = n, end = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = utf8_next(s + i, n - i, &cp);
        if (k == 0) {
            why = "The name must be valid UTF-8 text.";
            goto cleanup;
        }
        if (!acc_is_trim_space(cp)) {
            if (start == n)
                start = i;
            end = i + k;
        }
        i += k;
    }
    if (start == n)
        start = end = 0;
    if (end - start > TG_NAME_MAX) {
        why = "The name must be at most 100 bytes long.";
        goto cleanup;
    }
    /* Pass 2: what each character may be, and where. prev: the class of the character
     * before (a space, the start of the name, a visible character, a joiner, a selector). */
    enum { ACC_EDGE, ACC_VISIBLE, ACC_JOINER, ACC_SELECTOR } prev = ACC_EDGE;
    for (size_t i = start; i < end;) {
        uint32_t cp = 0; /* set by utf8_next; GCC -O3 cannot see that */
        size_t k = utf8_next(s + i, end - i, &cp);
        if (acc_is_control(cp) || cp == 0x2028 || cp == 0x2029) {
            why = "The name must not contain control characters or line breaks.";
            goto cleanup;
        }
        if (acc_is_bidi_control(cp)) {
            why = "The name must not contain characters that change the direction of text.";
            goto cleanup;
        }
        int ok;
        if (acc_is_joiner(cp)) {
            ok = prev == ACC_VISIBLE || prev == ACC_SELECTOR;
            prev = ACC_JOINER;
        } else if (acc_is_selector(cp)) {
            ok = prev == ACC_VISIBLE;
            prev = ACC_SELECTOR;
        } else if (acc_is_invisible(cp)) {
            ok = 0;
        } else if (acc_is_unicode_space(cp)) {
            ok = prev != ACC_JOINER;
            prev = ACC_EDGE;
        } else {
            ok = 1;
            prev = ACC_VISIBLE;
        }
        if (!ok) {
            why = "The name must not contain invisible characters.";
            goto cleanup;
        }
        i += k;
    }
    if (prev == ACC_JOINER) {
        why = "The name must not contain invisible characters.";
        goto cleanup;
    }
    memcpy(out, s + start, end - start);
    out[end - start] = '\0';
    ret = 0;

cleanup:
    if (reason)
        *reason = why;
    return ret;
}

/* ---- locale ---- */

int accounts_locale_valid(const char *s)
{
    return s != NULL && (strcmp(s, ACCOUNTS_LOCALE_ZH) == 0 || strcmp(s, ACCOUNTS_LOCALE_EN) == 0);
}

static int acc_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Parses a qvalue (RFC 9110 12.4.2: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")]) of [s, e) into
 * thousandths. Returns -1 when malformed.
 */
static int acc_qvalue(const char *s, const char *e)
{
    if (s == e || (*s != '0' && *s != '1'))
        return -1;
    int v = (*s - '0') * 1000, scale = 100;
    const char *p = s + 1;
    if (p < e) {
        if (*p != '.' || e - p > 4)
            return -1;
        for (p++; p < e; p++, scale /= 10) {
            if (*p < '0' || *p > '9')
                return -1;
            v += (*p - '0') * scale;
        }
    }
    return v > 1000 ? -1 : v;
}

/*
 * Judges one element [s, e) of the list: its language range must be 1*8ALPHA *("-"
 * 1*8alphanum) or "*"; of its parameters only q counts. Returns the q-value in thousandths
 * (-1 when malformed or "*"), and *zh says whether the primary subtag is "zh".
 */
static int acc_lang_item(const char *s, const char *e, int *zh)
{
    const char *semi = memchr(s, ';', (size_t)(e - s));
    const char *re = semi ? semi : e;
    while (re > s && (re[-1] == ' ' || re[-1] == '\t'))
        re--;
    *zh = 0;
    if (re - s == 1 && *s == '*')
        return -1;
    size_t sub = 0; /* length of the current subtag */
    int first = 1;  /* in the primary subtag: letters only */
    for (const char *p = s; p < re; p++) {
        if (*p == '-') {
            if (sub == 0)
                return -1;
            first = 0;
            sub = 0;
            continue;
        }
        if (!(acc_alpha(*p) || (!first && *p >= '0' && *p <= '9')) || ++sub > 8)
            return -1;
    }
    if (sub == 0)
        return -1;
    *zh = (re - s == 2 || (re - s > 2 && s[2] == '-')) && (s[0] | 0x20) == 'z' && (s[1] | 0x20) == 'h';
    int q = 1000;
    for (const char *p = semi; p != NULL && p < e;) {
        const char *next = memchr(p + 1, ';', (size_t)(e - p - 1));
        const char *pe = next ? next : e;
        const char *a = p + 1;
        while (a < pe && (*a == ' ' || *a == '\t'))
            a++;
        const char *b = pe;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b - a >= 2 && (a[0] | 0x20) == 'q' && a[1] == '=') {
            q = acc_qvalue(a + 2, b);
            if (q < 0)
                return -1;
        }
        p = next;
    }
    return q;
}

const char *accounts_locale_pick(const char *al)
{
    if (al == NULL)
        return ACCOUNTS_LOCALE_EN;
    size_t len = strnlen(al, ACCOUNTS_ACCEPT_LANGUAGE_MAX);
    const char *end = al + len;
    int best_q = 0, best_zh = 0;
    for (const char *s = al; s < end;) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *e = comma ? comma : end;
        const char *b = s;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        const char *t = e;
        while (t > b && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        int zh = 0;
        int q = b < t ? acc_lang_item(b, t, &zh) : -1;
        if (q > best_q) {
            best_q = q;
            best_zh = zh;
        }
        if (comma == NULL)
            break;
        s = comma + 1;
    }
    return best_zh ? ACCOUNTS_LOCALE_ZH : ACCOUNTS_LOCALE_EN;
}
