/* Unit tests for src/domain/accounts.c: email normalization, password policy, names. */
#include "../test.h"

#include "domain/accounts.h"

struct email_case {
    const char *in;
    const char *want; /* NULL: must be refused */
    const char *what;
};

static void test_email(void)
{
    char local64[65], local65[66], long_label[70], dom252[300], dom253[300], total255[300];
    memset(local64, 'a', 64), local64[64] = '\0';
    memset(local65, 'a', 65), local65[65] = '\0';
    memset(long_label, 'b', 64), long_label[64] = '\0';
    /* With a 1-byte local part and '@', 252 bytes is the longest domain within the
     * 254-byte total: labels 62+63+63+61 plus 3 dots. */
    snprintf(dom252, sizeof dom252, "%.62s.%.63s.%.63s.%.61s", long_label, long_label, long_label,
             long_label);
    snprintf(dom253, sizeof dom253, "%.62s.%.63s.%.63s.%.62s", long_label, long_label, long_label,
             long_label);

    char ok252[400], bad253[400], toolong[400], ok64[200], bad65[200], badlabel[200];
    snprintf(ok252, sizeof ok252, "a@%s", dom252);
    snprintf(bad253, sizeof bad253, "a@%s", dom253);
    snprintf(ok64, sizeof ok64, "%s@example.com", local64);
    snprintf(bad65, sizeof bad65, "%s@example.com", local65);
    snprintf(badlabel, sizeof badlabel, "a@%s.com", long_label);
    /* 64 + 1 + 190 = 255 > 254 total with a valid local part and domain */
    snprintf(total255, sizeof total255, "%.63s.%.63s.%.62s", long_label, long_label, long_label);
    snprintf(toolong, sizeof toolong, "%s@%s", local64, total255);

    const struct email_case cases[] = {
        {"alice@example.com", "alice@example.com", "plain address"},
        {"  Alice@Example.COM \t\n", "alice@example.com", "trimmed and lower-cased"},
        {"a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk", "plus tag and subdomains"},
        {"x@xn--fiqs8s.cn", "x@xn--fiqs8s.cn", "punycode domain"},
        {"x@a-b.c0", "x@a-b.c0", "hyphen inside a label, digit in TLD"},
        {ok64, ok64, "64-byte local part"},
        {ok252, ok252, "252-byte domain (254 bytes in total)"},
        {"", NULL, "empty"},
        {"   ", NULL, "only whitespace"},
        {"alice", NULL, "no @"},
        {"alice@@example.com", NULL, "two @"},
        {"a@b@example.com", NULL, "two @ apart"},
        {"@example.com", NULL, "empty local part"},
        {"alice@", NULL, "empty domain"},
        {"alice@localhost", NULL, "domain without a dot"},
        {"alice@.example.com", NULL, "leading dot in domain"},
        {"alice@example.com.", NULL, "trailing dot in domain"},
        {"alice@example..com", NULL, "empty label"},
        {"alice@-example.com", NULL, "label starts with -"},
        {"alice@example-.com", NULL, "label ends with -"},
        {"alice@exa_mple.com", NULL, "underscore in domain"},
        {"al ice@example.com", NULL, "space inside"},
        {"alice@exam\tple.com", NULL, "tab inside"},
        {"alice\x01@example.com", NULL, "control character"},
        {"al\x7f"
         "ice@example.com",
         NULL, "DEL"},
        {"jos\xc3\xa9@example.com", NULL, "non-ASCII local part"},
        {"alice@ex\xc3\xa4mple.com", NULL, "non-ASCII domain"},
        {bad65, NULL, "65-byte local part"},
        {bad253, NULL, "253-byte domain (255 bytes in total)"},
        {badlabel, NULL, "64-byte label"},
        {toolong, NULL, "more than 254 bytes in total"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[TG_EMAIL_MAX + 1];
        const char *why = NULL;
        int rc = accounts_email_normalize(cases[i].in, out, &why);
        if (cases[i].want) {
            CHECK(rc == 0 && strcmp(out, cases[i].want) == 0, "email accepted: %s", cases[i].what);
            CHECK(why == NULL, "no reason when accepted: %s", cases[i].what);
        } else {
            CHECK(rc == -1 && out[0] == '\0' && why != NULL, "email refused: %s", cases[i].what);
        }
    }
    CHECK(strlen(dom252) == 252 && strlen(dom253) == 253, "test domains have the intended lengths");
    CHECK(strlen(toolong) == 255, "too-long test address is 255 bytes");
}

struct pw_case {
    const char *pw;
    size_t len; /* 0: strlen */
    int ok;
    const char *what;
};

static void test_password(void)
{
    char b256[257], b257[258];
    memset(b256, 'x', 256), b256[256] = '\0';
    memset(b257, 'x', 257), b257[257] = '\0';
    const struct pw_case cases[] = {
        {"correct horse", 0, 1, "ordinary passphrase"},
        {"12345678", 0, 1, "exactly 8 ASCII characters"},
        {"1234567", 0, 0, "7 characters"},
        {"", 0, 0, "empty"},
        {b256, 0, 1, "256 bytes"},
        {b257, 0, 0, "257 bytes"},
        {"        ", 0, 0, "8 spaces"},
        {" \t\n\r \v\f ", 0, 0, "ASCII whitespace only"},
        {"\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80",
         0, 0, "ideographic spaces only"},
        {" pass word ", 0, 1, "spaces around and inside count"},
        {"\xe5\xaf\x86\xe7\xa0\x81\xe5\xaf\x86\xe7\xa0\x81\xe5\xaf\x86\xe7\xa0\x81\xe5\xaf\x86\xe7\xa0\x81",
         0, 1, "8 CJK characters (24 bytes)"},
        {"\xe5\xaf\x86\xe7\xa0\x81\xe5\xaf\x86", 0, 0, "3 CJK characters (9 bytes) are too few"},
        {"\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 0, 0, "2 emoji = 8 bytes but 2 characters"},
        {"abcdefg\xff", 0, 0, "invalid UTF-8 byte"},
        {"abcdefg\xc0\xaf", 0, 0, "overlong encoding"},
        {"abcdefg\xed\xa0\x80", 0, 0, "UTF-16 surrogate"},
        {"abcdefg\xe5\xaf", 0, 0, "truncated sequence"},
        {"abcd\0efgh", 9, 0, "embedded NUL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = NULL;
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].pw);
        int rc = accounts_password_check(cases[i].pw, len, &why);
        CHECK((rc == 0) == cases[i].ok && (cases[i].ok ? why == NULL : why != NULL), "password %s: %s",
              cases[i].ok ? "accepted" : "refused", cases[i].what);
    }
}

static void test_display_name(void)
{
    char n100[101], n101[102], padded[120];
    memset(n100, 'n', 100), n100[100] = '\0';
    memset(n101, 'n', 101), n101[101] = '\0';
    snprintf(padded, sizeof padded, "   %s\t", n100);
    const struct {
        const char *in;
        const char *want;
        const char *what;
    } cases[] = {
        {"Alice", "Alice", "plain"},
        {"  Alice Smith  ", "Alice Smith", "trimmed, inner space kept"},
        {"", "", "empty is allowed"},
        {"   ", "", "whitespace only becomes empty"},
        {"\xe5\xbc\xa0\xe4\xb8\x89", "\xe5\xbc\xa0\xe4\xb8\x89", "CJK name"},
        {n100, n100, "100 bytes"},
        {padded, n100, "100 bytes after trimming"},
        {n101, NULL, "101 bytes"},
        {"Al\nice", NULL, "newline inside"},
        {"Al\x1b[31mice", NULL, "escape sequence"},
        {"Al\x7fice", NULL, "DEL"},
        {"Al\xc2\x85ice", NULL, "C1 control (NEL)"},
        {"Al\xffice", NULL, "invalid UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[TG_NAME_MAX + 1];
        const char *why = NULL;
        int rc = accounts_display_name_normalize(cases[i].in, out, &why);
        if (cases[i].want)
            CHECK(rc == 0 && strcmp(out, cases[i].want) == 0 && why == NULL, "name accepted: %s",
                  cases[i].what);
        else
            CHECK(rc == -1 && out[0] == '\0' && why != NULL, "name refused: %s", cases[i].what);
    }
}

int main(void)
{
    test_email();
    test_password();
    test_display_name();
    return test_done();
}
