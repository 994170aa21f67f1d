/*
 * errors.h - API error codes from core/errors.def.
 */
#ifndef TG_CORE_ERRORS_H
#define TG_CORE_ERRORS_H

enum tg_err {
#define X(id, code, status, msg) TG_E_##id,
#include "core/errors.def"
#undef X
    TG_E__COUNT
};

/* The stable wire code ("insufficient_credits"). */
const char *tg_err_code(enum tg_err e);
/* The HTTP status for e (400..599). */
int tg_err_status(enum tg_err e);
/* The default human message for e. */
const char *tg_err_message(enum tg_err e);

/* Result of most functions: TG_OK or TG_ERR. */
typedef enum { TG_OK = 0, TG_ERR = -1 } tg_rv;

/* Checks that should be impossible (SQLite's ALWAYS/NEVER): in debug builds they abort. */
#ifdef NDEBUG
#define ALWAYS(x) (x)
#define NEVER(x) (x)
#else
#include <assert.h>
#define ALWAYS(x) ((x) ? 1 : (assert(0 && #x), 0))
#define NEVER(x) ((x) ? (assert(!#x), 1) : 0)
#endif

#endif
