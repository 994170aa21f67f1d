/*
 * users.h - account changes with rules attached: a user's own profile, and an
 * administrator's changes to role and disabled flag (DESIGN section 5: admin rights and a
 * disabled account take effect at once, whatever tokens are outstanding).
 */
#ifndef TG_DOMAIN_USERS_H
#define TG_DOMAIN_USERS_H

#include <stdint.h>

#include "core/types.h"

struct store_exec;

enum users_rc {
    USERS_OK = 0,
    USERS_NOTFOUND,
    USERS_SELF,        /* an admin may not change their own role or disabled flag */
    USERS_UNAVAILABLE, /* busy or cannot write: 503 */
    USERS_ERROR,
};

typedef void (*users_fn)(void *arg, enum users_rc rc, const struct user *u);

/*
 * Sets the display name (already normalized; NULL keeps it) and the language (a valid
 * locale, "" to clear it, NULL keeps it: mails then follow the region) of user_id, and answers
 * the account.
 */
void users_update_profile(struct store_exec *ex, const char *user_id, const char *display_name, const char *locale,
                          int64_t now_ms, users_fn cb, void *arg);

/*
 * Saves user_id's region choice: "CN" or "GLOBAL", or "" to clear it (the region is then
 * detected again on every request, domain/region.h), and answers the account. Any other
 * value answers USERS_ERROR without writing.
 */
void users_set_region(struct store_exec *ex, const char *user_id, const char *region, int64_t now_ms, users_fn cb,
                      void *arg);

/*
 * An administrator's change to target_id: role ("user"/"admin", NULL keeps it) and disabled
 * (0/1, -1 keeps it), with a "user.update" audit row holding the old and new values, in one
 * transaction. A change of either bumps the account's epoch (every access token issued
 * before stops working at once); disabling also revokes every refresh token. An admin
 * cannot change their own role or flag (USERS_SELF): the last admin must not lock everyone
 * out by accident.
 */
void users_admin_update(struct store_exec *ex, const char *actor_id, const char *target_id, const char *role,
                        int disabled, const char *ip, const char *request_id, int64_t now_ms, users_fn cb,
                        void *arg);

/* What users_bootstrap did. */
struct users_bootstrap_result {
    enum users_rc rc;
    struct user user;
    int created;   /* a new account (with the signup grant) */
    int reenabled; /* an existing disabled account was enabled again */
};
typedef void (*users_bootstrap_fn)(void *arg, const struct users_bootstrap_result *res);

/*
 * `tollgate admin create`: creates the account for email (normalized) with password hash
 * `hash`, role and display name (NULL keeps an existing one), granting signup_credits to a
 * new account; or, when it exists, resets its password and role and enables it - how an
 * operator recovers a lost admin password. A reset ends every session of the account
 * (refresh tokens revoked, epoch bumped). One transaction, with an "admin.bootstrap" audit
 * row.
 */
void users_bootstrap(struct store_exec *ex, const char *email, const char *display_name, const char *role,
                     const char *hash, int64_t signup_credits, int64_t now_ms, users_bootstrap_fn cb,
                     void *arg);

#endif
