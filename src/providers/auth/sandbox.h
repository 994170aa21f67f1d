/*
 * sandbox.h - the sandbox sign-in provider: a test sign-in page served by Tollgate itself
 * (/sandbox/sign-in) that offers a few made-up people, so that every browser flow can be
 * tried with no account anywhere (DESIGN section 9). On while TG_SANDBOX is on.
 *
 * It behaves like a real OAuth provider: the page sends the browser back to our callback
 * with a code; the code is signed, expires after five minutes and is bound to the PKCE
 * challenge, so exchange() checks the verifier as a real provider would.
 */
#ifndef TG_PROVIDERS_AUTH_SANDBOX_H
#define TG_PROVIDERS_AUTH_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include "providers/auth/auth.h"

extern const struct auth_provider auth_sandbox;

/* The people the page offers. */
struct sandbox_person {
    const char *key;          /* "alice" */
    const char *display_name; /* "Alice (global)" */
    const char *email;        /* "" when none */
    int email_verified;
    const char *locale;
    const char *about;        /* what the person is for, shown on the page */
};
extern const struct sandbox_person sandbox_people[];
extern const size_t sandbox_people_count;

/* The callback URL the sandbox page may send people back to (ours, for "sandbox"). */
char *sandbox_signin_redirect_uri(void);

/*
 * A code for person `key` bound to the PKCE challenge, valid five minutes from now_ms.
 * Returns a new string (caller frees) or NULL when key is unknown or the challenge is not a
 * 43-character base64url S256 challenge.
 */
char *sandbox_signin_code(const char *key, const char *challenge, int64_t now_ms);

/* Checks code and verifier at now_ms; fills *out. Returns 0, or -1 with a reason in *why. */
int sandbox_signin_check(const char *code, const char *verifier, int64_t now_ms, struct auth_identity *out,
                         const char **why);

#endif
