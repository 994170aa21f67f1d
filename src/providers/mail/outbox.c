/*
 * outbox.c - the mail transport of a deployment without SMTP: one file per message in
 * TG_DATA_DIR/outbox/ (see transport.h), so that the default configuration still "sends"
 * verification and reset mails, which an operator or a test can read.
 */
#include "providers/mail/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Folder path plus file name: TG_DATA_DIR is an operator's path, well under this. */
#define MAIL_OUTBOX_PATH_MAX 4096

void mail_outbox_write(const char *dir, const struct mail_msg *m, mail_sent_fn done, void *arg)
{
    char name[MAIL_OUTBOX_NAME_MAX], tmp[MAIL_OUTBOX_PATH_MAX], final[MAIL_OUTBOX_PATH_MAX];
    const char *why = NULL;
    int fd = -1, created = 0;

    snprintf(name, sizeof name, "%013" PRId64 "-%s.eml", m->created_ms, m->id);
    if ((size_t)snprintf(final, sizeof final, "%s/%s", dir, name) >= sizeof final ||
        (size_t)snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name) >= sizeof tmp) {
        why = "path_too_long";
        goto cleanup;
    }
    /* O_EXCL | O_NOFOLLOW: never write through a link someone planted in the folder. */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        why = errno == ENOSPC ? "disk_full" : "open_failed";
        goto cleanup;
    }
    created = 1;
    for (size_t off = 0; off < m->len;) {
        ssize_t w = write(fd, m->data + off, m->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            why = errno == ENOSPC ? "disk_full" : "write_failed";
            goto cleanup;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        why = "write_failed";
        goto cleanup;
    }
    int cr = close(fd);
    fd = -1;
    if (cr != 0 || rename(tmp, final) != 0) {
        why = "write_failed";
        goto cleanup;
    }
cleanup:
    if (fd >= 0)
        close(fd);
    if (why != NULL && created)
        unlink(tmp);
    done(arg, why == NULL, why, 0, why == NULL ? name : "");
}
