/*
 * net_stubs.h - for fuzz targets that include a provider's .c to reach its parsers: the
 * outbound client's calls, which a target never makes (net is not linked), each aborting if
 * it ever were made. One copy for every such target.
 */
#ifndef TG_FUZZ_NET_STUBS_H
#define TG_FUZZ_NET_STUBS_H

#include <stdlib.h>

#include "net/net.h"

void net_call_init(struct net_call *c, const char *provider, const char *method, const char *url)
{
    (void)c, (void)provider, (void)method, (void)url;
    abort();
}
void net_call_header(struct net_call *c, const char *name, const char *value)
{
    (void)c, (void)name, (void)value;
    abort();
}
void net_call_body(struct net_call *c, const char *content_type, const char *body, size_t len)
{
    (void)c, (void)content_type, (void)body, (void)len;
    abort();
}
void net_call_release(struct net_call *c)
{
    (void)c;
    abort();
}
void net_exec_submit(struct net_exec *ex, struct net_call *c, net_done_fn done)
{
    (void)ex, (void)c, (void)done;
    abort();
}

#endif
