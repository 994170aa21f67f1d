/*
 * smtp.c - mail through an SMTP server (TG_SMTP_URL), by net/net.h's SMTP support: the
 * call's body is the whole RFC 5322 message, its envelope the message's From and To.
 *
 * The security of the exchange is net.h's policy, whoever configures it: smtps:// is
 * implicit TLS; smtp:// must upgrade with STARTTLS (the call fails when the server does not
 * offer it) unless the server is on the loopback interface (a local relay); certificates
 * are always verified; an SMTP send is never retried by the client (a message must not go
 * out twice - the user asks again instead).
 */
#include "providers/mail/transport.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "net/net.h"

struct mail_smtp_call {
    struct net_call call; /* first: done() gets it back */
    mail_sent_fn done;
    void *arg;
};

static void mail_smtp_done(struct net_call *c)
{
    struct mail_smtp_call *sc = (struct mail_smtp_call *)c;
    int ok = c->err == NET_OK;
    const char *why = ok                                           ? NULL
                      : c->err == NET_PROTOCOL && c->status >= 400 ? "refused"
                                                                   : net_err_name(c->err);
    long code = c->status;
    mail_sent_fn done = sc->done;
    void *arg = sc->arg;

    if (c->body != NULL)
        explicit_bzero(c->body, c->body_len); /* the message carries a one-time token */
    net_call_release(c);
    free(sc);
    done(arg, ok, why, code, "");
}

void mail_smtp_send(struct net_exec *nx, const char *url, const struct mail_msg *m, int timeout_ms,
                    mail_sent_fn done, void *arg)
{
    struct mail_smtp_call *sc = xcalloc(1, sizeof *sc);
    sc->done = done;
    sc->arg = arg;
    net_call_init(&sc->call, "smtp", "POST", url);
    net_call_mail(&sc->call, m->from, m->to);
    net_call_body(&sc->call, NULL, m->data, m->len);
    sc->call.timeout_ms = timeout_ms;
    net_exec_submit(nx, &sc->call, mail_smtp_done);
}
