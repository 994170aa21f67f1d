/*
 * qr.c - a QR code as SVG, for WeChat Pay's Native checkout (api.h: api_qr_svg).
 *
 * The client gets the code_url and, drawn by us, the picture to scan: one path of unit
 * squares on a white background with the standard four-module quiet zone, sized by viewBox
 * so it scales crisply. Error correction M (15%), as WeChat's own codes use.
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>

#include <qrencode.h>

#include "core/mem.h"

#define QR_QUIET 4
#define QR_TEXT_MAX 1024 /* a code_url is ~30 characters; nothing legitimate comes near this */

char *api_qr_svg(const char *text)
{
    if (text == NULL || text[0] == '\0' || strlen(text) > QR_TEXT_MAX)
        return NULL;
    QRcode *q = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
    if (q == NULL)
        return NULL;
    int w = q->width, size = w + 2 * QR_QUIET;
    struct sbuf b = {0};
    sbuf_printf(&b,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">"
                "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
                size, size, size, size);
    for (int y = 0; y < w; y++) {
        for (int x = 0; x < w; x++) {
            if (!(q->data[y * w + x] & 1))
                continue;
            /* A run of dark modules on one row is one rectangle. */
            int run = 1;
            while (x + run < w && (q->data[y * w + x + run] & 1))
                run++;
            sbuf_printf(&b, "M%d %dh%dv1h-%dz", x + QR_QUIET, y + QR_QUIET, run, run);
            x += run - 1;
        }
    }
    sbuf_puts(&b, "\"/></svg>");
    QRcode_free(q);
    return b.data; /* sbuf's buffer is a plain heap string */
}
