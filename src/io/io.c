/* io.c - format dispatch, files, gzip, and the all-or-nothing load. */
#include "kg/io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "io_util.h"

kg_format kg_format_from_name(const char *name)
{
    if (!name)
        return KG_FORMAT_AUTO;
    if (!strcasecmp(name, "dot") || !strcasecmp(name, "gv"))
        return KG_FORMAT_DOT;
    if (!strcasecmp(name, "tsv"))
        return KG_FORMAT_TSV;
    if (!strcasecmp(name, "json"))
        return KG_FORMAT_JSON;
    return KG_FORMAT_AUTO;
}

kg_format kg_format_from_path(const char *path)
{
    if (!path)
        return KG_FORMAT_AUTO;
    size_t n = strlen(path);
    if (n > 3 && !strcasecmp(path + n - 3, ".gz"))
        n -= 3;
    size_t i = n;
    while (i > 0 && path[i - 1] != '.' && path[i - 1] != '/')
        i--;
    if (i == 0 || path[i - 1] != '.')
        return KG_FORMAT_AUTO;
    char ext[8];
    size_t k = n - i;
    if (k >= sizeof ext)
        return KG_FORMAT_AUTO;
    memcpy(ext, path + i, k);
    ext[k] = '\0';
    return kg_format_from_name(ext);
}

const char *kg_format_name(kg_format f)
{
    switch (f) {
    case KG_FORMAT_DOT: return "dot";
    case KG_FORMAT_TSV: return "tsv";
    case KG_FORMAT_JSON: return "json";
    default: return "auto";
    }
}

/* Guess a format from the first meaningful bytes: '{' is JSON; a DOT
 * keyword ("strict", "graph", "digraph") or a C/C++ comment is DOT;
 * anything else is TSV (whose reader then names what is wrong). */
static kg_format sniff(const char *d, size_t n)
{
    size_t i = 0;
    if (n >= 3 && !memcmp(d, "\xEF\xBB\xBF", 3))
        i = 3;
    while (i < n && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' ||
                     d[i] == '\r'))
        i++;
    if (i < n && d[i] == '{')
        return KG_FORMAT_JSON;
    if (i + 1 < n && d[i] == '/' && (d[i + 1] == '*' || d[i + 1] == '/'))
        return KG_FORMAT_DOT;
    static const char *const kw[] = {"strict", "digraph", "graph"};
    for (size_t k = 0; k < 3; k++) {
        size_t l = strlen(kw[k]);
        if (n - i > l && !strncasecmp(d + i, kw[k], l) &&
            (d[i + l] == ' ' || d[i + l] == '{' || d[i + l] == '\t' ||
             d[i + l] == '\n' || d[i + l] == '\r' || d[i + l] == '"'))
            return KG_FORMAT_DOT;
    }
    return KG_FORMAT_TSV;
}

/* Parse into out (which the caller guarantees is empty or scratch). */
static int parse_into(const char *data, size_t len, const char *name,
                      kg_format fmt, kg_batch *out, kg_error *err)
{
    if (len > KG_IO_MAX_FILE)
        return kg_error_set(err, KG_ELIMIT, "%s:1: larger than %zu bytes",
                            name, KG_IO_MAX_FILE);
    if (fmt == KG_FORMAT_AUTO)
        fmt = sniff(data, len);
    if (fmt == KG_FORMAT_DOT)
        return kg_dot_read(data, len, name, out, err);
    if (fmt != KG_FORMAT_TSV && fmt != KG_FORMAT_JSON)
        return kg_error_set(err, KG_EUNSUPPORTED, "%s: unknown format", name);
    /* TSV and JSON decode in place: they get a private copy with one
     * spare byte for a terminating NUL. */
    char *copy = malloc(len + 1);
    if (!copy)
        return kg_error_set(err, KG_ENOMEM, "%s: out of memory", name);
    if (len)
        memcpy(copy, data, len);
    copy[len] = '\0';
    int rc = fmt == KG_FORMAT_TSV ? kg_tsv_read(copy, len, name, out, err)
                                  : kg_json_read(copy, len, name, out, err);
    free(copy);
    return rc;
}

int kg_read_buffer(const char *data, size_t len, const char *name,
                   kg_format fmt, kg_batch *out, kg_error *err)
{
    if (!out || (!data && len))
        return kg_error_set(err, KG_EINVAL, "kg_read_buffer: no buffer");
    if (!name)
        name = "<buffer>";
    if (!data)
        data = "";
    /* Parse into out directly when it is empty (clearing it on error
     * restores it); otherwise into a scratch batch appended on success. */
    size_t before = kg_batch_count(out);
    kg_batch *dst = before ? kg_batch_new() : out;
    if (!dst)
        return kg_error_set(err, KG_ENOMEM, "%s: out of memory", name);
    int rc = parse_into(data, len, name, fmt, dst, err);
    if (rc == 0 && dst != out) {
        for (size_t i = 0, n = kg_batch_count(dst); i < n && rc == 0; i++)
            rc = kg_batch_push(out, kg_batch_get(dst, i));
        if (rc)
            kg_error_set(err, rc, "%s: out of memory", name);
    }
    if (dst != out)
        kg_batch_destroy(&dst);
    else if (rc)
        kg_batch_clear(out);
    if (rc == 0 && (rc = kg_batch_set_source(out, name)))
        kg_error_set(err, rc, "%s: out of memory", name);
    return rc;
}

/* Inflate a gzip stream, refusing output beyond KG_IO_MAX_FILE (a small
 * hostile file could otherwise expand without bound). Caller owns *out. */
static int gunzip(const char *path, const unsigned char *in, size_t n,
                  char **out, size_t *out_len, kg_error *err)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK)
        return kg_error_set(err, KG_ENOMEM, "%s: out of memory", path);
    kg_sbuf b = {0};
    unsigned char chunk[65536];
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)n;
    int zr = Z_OK;
    while (zr != Z_STREAM_END) {
        z.next_out = chunk;
        z.avail_out = sizeof chunk;
        zr = inflate(&z, Z_NO_FLUSH);
        if (zr != Z_OK && zr != Z_STREAM_END) {
            if (zr == Z_BUF_ERROR && z.avail_in == 0)
                zr = Z_DATA_ERROR; /* truncated stream */
            break;
        }
        size_t got = sizeof chunk - z.avail_out;
        if (got >= KG_IO_MAX_FILE - b.len) { /* checked before growing */
            inflateEnd(&z);
            kg_sbuf_free(&b);
            return kg_error_set(err, KG_ELIMIT, "%s:1: uncompressed data "
                                "larger than %zu bytes", path, KG_IO_MAX_FILE);
        }
        kg_sbuf_put(&b, (const char *)chunk, got);
        if (zr == Z_STREAM_END && z.avail_in > 0) {
            /* concatenated gzip members, as gzip(1) allows */
            if (inflateReset(&z) != Z_OK)
                break;
            zr = Z_OK;
        } else if (zr == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
            zr = Z_DATA_ERROR; /* input ended inside the stream */
            break;
        }
    }
    inflateEnd(&z);
    if (zr != Z_STREAM_END) {
        kg_sbuf_free(&b);
        return kg_error_set(err, KG_EPARSE, "%s:1: corrupt or truncated gzip "
                            "data", path);
    }
    return kg_sbuf_take(&b, out, out_len) ? kg_error_set(err, KG_ENOMEM,
                                                         "%s: out of memory",
                                                         path)
                                          : 0;
}

/* The whole file, bounded by KG_IO_MAX_FILE. Caller owns *out. */
static int slurp(const char *path, char **out, size_t *len, kg_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return kg_error_set(err, KG_EIO, "%s: %s", path, strerror(errno));
    kg_sbuf b = {0};
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (n >= KG_IO_MAX_FILE - b.len) {
            rc = kg_error_set(err, KG_ELIMIT, "%s:1: larger than %zu bytes",
                              path, KG_IO_MAX_FILE);
            break;
        }
        kg_sbuf_put(&b, chunk, n);
    }
    if (!rc && ferror(f))
        rc = kg_error_set(err, KG_EIO, "%s: read error", path);
    fclose(f);
    if (rc) {
        kg_sbuf_free(&b);
        return rc;
    }
    if (kg_sbuf_take(&b, out, len))
        return kg_error_set(err, KG_ENOMEM, "%s: out of memory", path);
    return 0;
}

int kg_read_file(const char *path, kg_format fmt, kg_batch *out,
                 kg_error *err)
{
    if (!path || !out)
        return kg_error_set(err, KG_EINVAL, "kg_read_file: no path or batch");
    char *data = NULL;
    size_t len = 0;
    int rc = slurp(path, &data, &len, err);
    if (rc)
        return rc;
    if (len >= 2 && (unsigned char)data[0] == 0x1f &&
        (unsigned char)data[1] == 0x8b) {
        char *plain = NULL;
        size_t plen = 0;
        rc = gunzip(path, (const unsigned char *)data, len, &plain, &plen,
                    err);
        free(data);
        if (rc)
            return rc;
        data = plain;
        len = plen;
    }
    if (fmt == KG_FORMAT_AUTO)
        fmt = kg_format_from_path(path);
    rc = kg_read_buffer(data, len, path, fmt, out, err);
    free(data);
    return rc;
}

int kg_load_file(kg_graph *g, const char *path, kg_format fmt, kg_error *err)
{
    if (!g)
        return kg_error_set(err, KG_EINVAL, "kg_load_file: no graph");
    kg_batch *b = kg_batch_new();
    if (!b)
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    int rc = kg_read_file(path, fmt, b, err);
    if (rc == 0)
        rc = kg_graph_apply(g, b, err);
    kg_batch_destroy(&b);
    return rc;
}

int kg_write_buffer(const kg_graph *g, kg_format fmt, char **out,
                    size_t *len, kg_error *err)
{
    if (!g || !out)
        return kg_error_set(err, KG_EINVAL, "kg_write_buffer: no graph");
    *out = NULL;
    if (len)
        *len = 0;
    kg_sbuf b = {0};
    int rc;
    switch (fmt) {
    case KG_FORMAT_DOT: rc = kg_dot_write(g, &b, err); break;
    case KG_FORMAT_TSV: rc = kg_tsv_write(g, &b, err); break;
    case KG_FORMAT_JSON: rc = kg_json_write(g, &b, err); break;
    default:
        return kg_error_set(err, KG_EUNSUPPORTED,
                            "no output format given (dot, tsv or json)");
    }
    if (rc) {
        kg_sbuf_free(&b);
        return rc;
    }
    if (kg_sbuf_take(&b, out, len))
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    return 0;
}

int kg_write_file(const kg_graph *g, kg_format fmt, FILE *out, kg_error *err)
{
    if (!out)
        return kg_error_set(err, KG_EINVAL, "kg_write_file: no stream");
    char *buf = NULL;
    size_t len = 0;
    int rc = kg_write_buffer(g, fmt, &buf, &len, err);
    if (rc)
        return rc;
    if (fwrite(buf, 1, len, out) != len || fflush(out) != 0)
        rc = kg_error_set(err, KG_EIO, "write failed: %s", strerror(errno));
    free(buf);
    return rc;
}
