/*
 * registry.c - the generation providers this build knows, one line each (gen.h).
 */
#include <string.h>

#include "providers/gen/internal.h"

static const struct gen_provider *const gen_list[] = {
    &gen_dashscope,
    &gen_kie,
    &gen_gemini,
    &gen_sandbox,
    NULL,
};

const struct gen_provider *gen_provider_find(const char *name)
{
    for (size_t i = 0; name != NULL && gen_list[i] != NULL; i++)
        if (strcmp(gen_list[i]->name, name) == 0)
            return gen_list[i];
    return NULL;
}

const struct gen_provider *const *gen_providers(void) { return gen_list; }
