/* Unit tests for src/domain/accounts.c: email normalization, password policy, names. */
#include "../test.h"

#include <stdint.h>

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
        /* Only a dot-atom local part: every other RFC 5321/5322 form is a second spelling
         * of a mailbox that a plain address already names. */
        {"o'brien@example.com", "o'brien@example.com", "apostrophe (atext)"},
        {"a_b-c@example.com", "a_b-c@example.com", "underscore and hyphen"},
        {"a/b=c?d^e`f{g|h}i~j#k$l&m*n@example.com", "a/b=c?d^e`f{g|h}i~j#k$l&m*n@example.com",
         "the rest of RFC 5322 atext"},
        {"ada+tag@example.com", "ada+tag@example.com", "plus-addressing is its own address"},
        {"\"ada\"@example.com", NULL, "quoted local part that would shadow ada@example.com"},
        {"\"a\"da@example.com", NULL, "partly quoted local part"},
        {"\"ada@example.com\"@example.com", NULL, "quoted local part holding an address"},
        {"\"a da\"@example.com", NULL, "quoted local part with a space"},
        {"a\\da@example.com", NULL, "backslash escape"},
        {"ada(comment)@example.com", NULL, "comment after the local part"},
        {"(comment)ada@example.com", NULL, "comment before the local part"},
        {"ada@(comment)example.com", NULL, "comment before the domain"},
        {"ada@example.com(comment)", NULL, "comment after the domain"},
        {"ada@[192.0.2.1]", NULL, "IPv4 address literal"},
        {"ada@[IPv6:2001:db8::1]", NULL, "IPv6 address literal"},
        {"ada@192.0.2.1", NULL, "bare IPv4 address as the domain"},
        {"ada@example.123", NULL, "all-numeric top-level label"},
        {".ada@example.com", NULL, "leading dot in the local part"},
        {"ada.@example.com", NULL, "trailing dot in the local part"},
        {"a..da@example.com", NULL, "two dots in a row in the local part"},
        {".@example.com", NULL, "local part of only a dot"},
        {"ada%example.org@example.com", NULL, "percent-hack source route"},
        {"example.org!ada@example.com", NULL, "bang path"},
        {"@relay.example:ada@example.com", NULL, "RFC 5321 source route"},
        {"ada,bob@example.com", NULL, "comma (an address list)"},
        {"ada;bob@example.com", NULL, "semicolon"},
        {"ada:bob@example.com", NULL, "colon (a group)"},
        {"<ada@example.com>", NULL, "angle brackets"},
        {"Ada <ada@example.com>", NULL, "display name and angle brackets"},
        {"[ada]@example.com", NULL, "brackets in the local part"},
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
        /* RIGHT-TO-LEFT OVERRIDE: "admin[RLO]gnp.exe" is displayed as "adminexe.png". */
        {"admin\xe2\x80\xae" "gnp.exe", NULL, "RLO that makes admin[RLO]gnp.exe read adminexe.png"},
        {"\xe2\x80\xae" "Alice", NULL, "RLO at the start"},
        {"Alice\xe2\x80\xac", NULL, "PDF at the end"},
        {"Al\xe2\x80\xa8ice", NULL, "LINE SEPARATOR inside"},
        {"Alice\xe2\x80\xa8", NULL, "LINE SEPARATOR at the end (not trimmed as space)"},
        {"\xe2\x80\xa9" "Alice", NULL, "PARAGRAPH SEPARATOR at the start"},
        {"Alice\xc2\x85", NULL, "NEL at the end (a C1 control, not trimmed as space)"},
        {"ad\xe2\x80\x8bmin", NULL, "ZERO WIDTH SPACE inside"},
        {"ad\xe2\x81\xa0min", NULL, "WORD JOINER inside"},
        {"\xef\xbb\xbf" "Alice", NULL, "BOM at the start"},
        {"ad\xc2\xadmin", NULL, "SOFT HYPHEN (invisible unless the line breaks there)"},
        {"Al\xe2\x81\xa1ice", NULL, "FUNCTION APPLICATION (invisible math operator)"},
        {"Al\xe2\x81\xaaice", NULL, "deprecated format character U+206A"},
        {"Al\xef\xbf\xb9ice", NULL, "INTERLINEAR ANNOTATION ANCHOR"},
        {"\xd8\x80" "1", NULL, "ARABIC NUMBER SIGN (Cf)"},
        {"\xe1\xa0\x8e", NULL, "MONGOLIAN VOWEL SEPARATOR (Cf)"},
        {"Al\xf0\x9d\x85\xb3ice", NULL, "MUSICAL SYMBOL BEGIN BEAM (Cf)"},
        {"Al\xf0\x93\x90\xb9ice", NULL, "EGYPTIAN HIEROGLYPH INSERT AT MIDDLE (Cf since Unicode 15)"},
        {"Alice\xf3\xa0\x81\x81\xf3\xa0\x81\x82", NULL, "tag characters that spell hidden ASCII"},
        {"\xe3\x85\xa4", NULL, "HANGUL FILLER alone (renders as nothing)"},
        {"Al\xe3\x85\xa4ice", NULL, "HANGUL FILLER inside"},
        {"\xe1\x85\x9f", NULL, "HANGUL CHOSEONG FILLER"},
        {"\xef\xbe\xa0", NULL, "HALFWIDTH HANGUL FILLER"},
        {"Al\xcd\x8fice", NULL, "COMBINING GRAPHEME JOINER"},
        {"Al\xe1\x9e\xb4ice", NULL, "KHMER VOWEL INHERENT AQ (default ignorable)"},
        {"\xe8\x91\x9b\xf3\xa0\x84\x80", NULL, "ideographic variation selector (VS17)"},
        {"Al\xef\xbf\xb0ice", NULL, "unassigned default-ignorable U+FFF0"},
        /* Joiners and variation selectors are needed for real names and emoji, but only
         * bound to visible neighbours. */
        {"\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb", "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb",
         "emoji ZWJ sequence (woman technologist)"},
        {"Ada \xe2\x9d\xa4\xef\xb8\x8f", "Ada \xe2\x9d\xa4\xef\xb8\x8f", "emoji with VS16 at the end"},
        {"\xf0\x9f\x8f\xb3\xef\xb8\x8f\xe2\x80\x8d\xf0\x9f\x8c\x88",
         "\xf0\x9f\x8f\xb3\xef\xb8\x8f\xe2\x80\x8d\xf0\x9f\x8c\x88", "VS16 then ZWJ (rainbow flag)"},
        {"\xd9\x85\xdb\x8c\xe2\x80\x8c\xd8\xae\xd9\x88\xd8\xa7\xd9\x87\xd9\x85",
         "\xd9\x85\xdb\x8c\xe2\x80\x8c\xd8\xae\xd9\x88\xd8\xa7\xd9\x87\xd9\x85", "Persian word with ZWNJ"},
        {"\xe0\xa4\x95\xe0\xa5\x8d\xe2\x80\x8d\xe0\xa4\xb7", "\xe0\xa4\x95\xe0\xa5\x8d\xe2\x80\x8d\xe0\xa4\xb7",
         "Devanagari ZWJ after a virama (a combining mark)"},
        {"\xe1\xa0\xa0\xe1\xa0\x8b", "\xe1\xa0\xa0\xe1\xa0\x8b", "Mongolian letter with FVS1"},
        {"1\xef\xb8\x8f\xe2\x83\xa3", "1\xef\xb8\x8f\xe2\x83\xa3", "keycap: VS16 then an enclosing mark"},
        {"\xe2\x80\x8d" "Alice", NULL, "ZWJ at the start"},
        {"Alice\xe2\x80\x8d", NULL, "ZWJ at the end"},
        {"Alice\xe2\x80\x8d  ", NULL, "ZWJ at the end before trimmed spaces"},
        {"Al\xe2\x80\x8d\xe2\x80\x8d" "ice", NULL, "two ZWJ in a row"},
        {"Al\xe2\x80\x8c\xe2\x80\x8d" "ice", NULL, "ZWNJ then ZWJ"},
        {"Al\xe2\x80\x8d ice", NULL, "ZWJ before a space"},
        {"Al \xe2\x80\x8cice", NULL, "ZWNJ after a space"},
        {"\xe2\x80\x8c", NULL, "ZWNJ alone"},
        {"\xef\xb8\x8f" "Alice", NULL, "VS16 at the start"},
        {"A\xef\xb8\x8f\xef\xb8\x8f", NULL, "two variation selectors on one character"},
        {"A \xef\xb8\x8f", NULL, "variation selector after a space"},
        {"A\xe2\x80\x8d\xef\xb8\x8f" "b", NULL, "variation selector after a joiner"},
        /* Unicode spaces around a name are trimmed like ASCII ones, so a name cannot be
         * made of spaces only; inside they are kept. */
        {"\xe3\x80\x80" "Alice\xc2\xa0", "Alice", "ideographic space and NBSP trimmed"},
        {"\xe3\x80\x80\xe2\x80\x83\xc2\xa0", "", "only Unicode spaces becomes empty"},
        {"\xc2\xa0\tAlice \xe2\x80\xaf", "Alice", "mixed ASCII and Unicode spaces trimmed"},
        {"Jean\xc2\xa0Pierre", "Jean\xc2\xa0Pierre", "NBSP inside kept"},
        {"\xe3\x80\x80\xff", NULL, "invalid UTF-8 after a Unicode space"},
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

/* Every bidi formatting character (UAX #9: ALM, LRM, RLM, embeddings, overrides, PDF,
 * isolates), each of which can reorder the text around it, and the line and paragraph
 * separators are refused wherever they are. */
static void test_display_name_bidi(void)
{
    static const uint32_t refused[] = {0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D,
                                       0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x2028, 0x2029};
    static const char *const fmt[3] = {"%.*sabcd", "ab%.*scd", "abcd%.*s"}; /* start, middle, end */
    int all = 1;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        uint32_t cp = refused[i];
        char enc[4], in[32], out[TG_NAME_MAX + 1];
        size_t k = 0;
        if (cp < 0x800) {
            enc[k++] = (char)(0xC0 | (cp >> 6));
        } else {
            enc[k++] = (char)(0xE0 | (cp >> 12));
            enc[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        }
        enc[k++] = (char)(0x80 | (cp & 0x3F));
        for (int pos = 0; pos < 3; pos++) {
            const char *why = NULL;
            snprintf(in, sizeof in, fmt[pos], (int)k, enc);
            int rc = accounts_display_name_normalize(in, out, &why);
            if (rc != -1 || out[0] != '\0' || why == NULL) {
                printf("#   U+%04X at position %d was accepted\n", (unsigned)cp, pos);
                all = 0;
            }
        }
    }
    CHECK(all, "every bidi control and line/paragraph separator is refused at start, middle and end");
}

/* Accept-Language -> the account's locale: the range with the highest q wins. */
static void test_locale(void)
{
    static const struct {
        const char *header, *want;
    } cases[] = {
        {NULL, "en-US"},
        {"", "en-US"},
        {"zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"},
        {"zh", "zh-CN"},
        {"ZH-tw", "zh-CN"},
        {"zh-Hant-HK", "zh-CN"},
        {"zh-Hans", "zh-CN"},
        {"en-US,en;q=0.9", "en-US"},
        {"en;q=0.5, zh;q=0.6", "zh-CN"},
        {"en;q=0.6, zh;q=0.6", "en-US"},          /* equal q: the first wins */
        {"zh;q=0, en", "en-US"},                  /* q=0 means "not this one" */
        {"zh;q=0.000", "en-US"},
        {"*", "en-US"},
        {"*;q=1, zh;q=0.1", "zh-CN"},             /* "*" says nothing about Chinese */
        {"fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", "en-US"},
        {"zhx", "en-US"},                         /* not the zh subtag */
        {"zh_CN", "en-US"},                       /* '_' is not a subtag separator */
        {"z", "en-US"},
        {"zh;q=1.5", "en-US"},                    /* malformed q: the entry is skipped */
        {"zh;q=0.5000", "en-US"},
        {"zh;q=abc, en;q=0.1", "en-US"},
        {"en;q=0.1, zh-CN ; q=0.2", "zh-CN"},     /* blanks around ';' */
        {"zh-CN;foo=bar", "zh-CN"},               /* other parameters are ignored */
        {"de, zh-", "en-US"},                     /* an empty subtag is malformed */
        {"-zh", "en-US"},
        {"123", "en-US"},
        {" ,, ,zh", "zh-CN"},
        {"en-abcdefghi, zh;q=0.1", "zh-CN"},      /* a subtag over 8 characters is skipped */
        {"zh-1234;q=0.9", "zh-CN"},               /* digits in later subtags are fine */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_STR_EQ(accounts_locale_pick(cases[i].header), cases[i].want, "Accept-Language \"%s\"",
                     cases[i].header ? cases[i].header : "(none)");

    /* Only the first ACCOUNTS_ACCEPT_LANGUAGE_MAX bytes are read: a zh past them does not count. */
    char big[ACCOUNTS_ACCEPT_LANGUAGE_MAX + 64];
    memset(big, ' ', sizeof big);
    memcpy(big + ACCOUNTS_ACCEPT_LANGUAGE_MAX + 4, ",zh", 3);
    big[sizeof big - 1] = '\0';
    CHECK_STR_EQ(accounts_locale_pick(big), "en-US", "a header is read up to its bound only");
    memcpy(big, "zh", 2);
    CHECK_STR_EQ(accounts_locale_pick(big), "zh-CN", "what is within the bound counts");

    CHECK(accounts_locale_valid("zh-CN") && accounts_locale_valid("en-US"), "the two locales are valid");
    CHECK(!accounts_locale_valid("zh-cn") && !accounts_locale_valid("fr-FR") && !accounts_locale_valid("") &&
              !accounts_locale_valid(NULL) && !accounts_locale_valid("zh-CN "),
          "anything else is not (exact match)");
}

int main(void)
{
    test_email();
    test_password();
    test_display_name();
    test_display_name_bidi();
    test_locale();
    return test_done();
}
