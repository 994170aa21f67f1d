#include "core/errors.h"

static const struct {
    const char *code;
    int status;
    const char *msg;
} tg_err_table[] = {
#define X(id, code, status, msg) {code, status, msg},
#include "core/errors.def"
#undef X
};

const char *tg_err_code(enum tg_err e)
{
    return e < TG_E__COUNT ? tg_err_table[e].code : "internal_error";
}

int tg_err_status(enum tg_err e)
{
    return e < TG_E__COUNT ? tg_err_table[e].status : 500;
}

const char *tg_err_message(enum tg_err e)
{
    return e < TG_E__COUNT ? tg_err_table[e].msg : "Something went wrong on our side.";
}
