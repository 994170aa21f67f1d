/*
 * internal.h - what the files of src/providers/storage share (not for other modules).
 */
#ifndef TG_PROVIDERS_STORAGE_INTERNAL_H
#define TG_PROVIDERS_STORAGE_INTERNAL_H

#include "providers/storage/storage.h"

/* s3/oss: PUTs the file tmp_path to key (storage_store_file). */
void storage_s3_put_file(const struct storage_backend *b, struct net_exec *nx, const char *key,
                         const char *content_type, const char *tmp_path, void (*done)(void *arg, int ok),
                         void *arg);

#endif
