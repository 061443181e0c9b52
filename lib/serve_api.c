/*
 * serve_api.c — the shapes of llp-serve's requests and answers that every
 * route shares (serve_internal.h): OpenAI-style error bodies, strict field
 * readers that name the field at fault, chat messages, base64, and UTF-8
 * safe streaming.
 *
 * Not for: what a route does (serve_routes.c) or HTTP (serve_http.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "records.h"
#include "serve_internal.h"
#include "utf8.h"
#include "util.h"

static const char *error_type(int status)
{
    if (status == 401) return "authentication_error";
    if (status == 429) return "rate_limit_error";
    if (status >= 500) return "server_error";
    return "invalid_request_error";
}

void llp_serve_error(llp_serve_request *r, int status, const char *code, const char *param,
                     const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_decref(r->response);
    free(r->error);
    r->status = status;
    r->error = llp_strdup(msg);
    r->response = json_pack("{s:{s:o,s:s,s:s?,s:s}}", "error", "message",
                            llp_json_string(msg, strlen(msg)), "type", error_type(status),
                            "param", param, "code", code);
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static int wrong_type(llp_serve_request *r, const char *name, const char *want, const json_t *v)
{
    llp_serve_error(r, 400, "invalid_type", name, "%s: expected %s, got %s", name, want,
                    type_name(v));
    return -1;
}

int llp_serve_field_int(llp_serve_request *r, json_t *obj, const char *name, long min,
                        long max, long *out)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v)) return wrong_type(r, name, "an integer", v);
    json_int_t x = json_integer_value(v);
    if (x < min || x > max) {
        llp_serve_error(r, 400, "invalid_value", name, "%s: must be between %ld and %ld, got %lld",
                        name, min, max, (long long)x);
        return -1;
    }
    *out = (long)x;
    return 0;
}

int llp_serve_field_num(llp_serve_request *r, json_t *obj, const char *name, double min,
                        double max, double *out)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return wrong_type(r, name, "a number", v);
    double x = json_number_value(v);
    if (!(x >= min && x <= max)) {
        llp_serve_error(r, 400, "invalid_value", name, "%s: must be between %g and %g, got %g",
                        name, min, max, x);
        return -1;
    }
    *out = x;
    return 0;
}

int llp_serve_field_bool(llp_serve_request *r, json_t *obj, const char *name, bool *out)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return wrong_type(r, name, "a boolean", v);
    *out = json_is_true(v);
    return 0;
}

int llp_serve_field_str(llp_serve_request *r, json_t *obj, const char *name, const char **out)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return wrong_type(r, name, "a string", v);
    *out = json_string_value(v);
    return 0;
}

#define MAX_STOPS 8

int llp_serve_field_stop(llp_serve_request *r, json_t *obj, char ***out, int *n)
{
    json_t *v = json_object_get(obj, "stop");
    if (!v || json_is_null(v)) return 0;
    if (json_is_string(v)) {
        if (!json_string_length(v)) {
            llp_serve_error(r, 400, "invalid_value", "stop", "stop: must not be empty");
            return -1;
        }
        *out = llp_calloc(1, sizeof **out);
        (*out)[0] = llp_strdup(json_string_value(v));
        *n = 1;
        return 0;
    }
    if (!json_is_array(v)) return wrong_type(r, "stop", "a string or an array of strings", v);
    if (json_array_size(v) > MAX_STOPS) {
        llp_serve_error(r, 400, "invalid_value", "stop", "stop: at most %d strings, got %zu",
                        MAX_STOPS, json_array_size(v));
        return -1;
    }
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s) {
        if (!json_is_string(s) || !json_string_length(s)) {
            llp_serve_error(r, 400, "invalid_value", "stop",
                            "stop[%zu]: expected a non-empty string", i);
            return -1;
        }
    }
    *n = (int)json_array_size(v);
    *out = llp_calloc((size_t)*n + 1, sizeof **out);
    json_array_foreach(v, i, s) (*out)[i] = llp_strdup(json_string_value(s));
    return 0;
}

int llp_serve_field_texts(llp_serve_request *r, json_t *obj, const char *name, int max,
                          char ***texts, size_t **lens, int *n)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) {
        llp_serve_error(r, 400, "missing_field", name, "%s: required", name);
        return -1;
    }
    size_t count = json_is_array(v) ? json_array_size(v) : 1;
    if (!json_is_string(v) && !json_is_array(v))
        return wrong_type(r, name, "a string or an array of strings", v);
    if (count == 0 || count > (size_t)max) {
        llp_serve_error(r, 400, "invalid_value", name, "%s: expected 1 to %d texts, got %zu",
                        name, max, count);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        json_t *s = json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_is_string(s)) {
            llp_serve_error(r, 400, "invalid_type", name,
                            "%s[%zu]: expected a string, got %s (token arrays are not accepted)",
                            name, i, type_name(s));
            return -1;
        }
        if (!json_string_length(s)) {
            if (json_is_array(v))
                llp_serve_error(r, 400, "invalid_value", name, "%s[%zu]: empty text", name, i);
            else
                llp_serve_error(r, 400, "invalid_value", name, "%s: empty text", name);
            return -1;
        }
    }
    *n = (int)count;
    *texts = llp_calloc(count, sizeof **texts);
    *lens = llp_calloc(count, sizeof **lens);
    for (size_t i = 0; i < count; i++) {
        json_t *s = json_is_array(v) ? json_array_get(v, i) : v;
        (*lens)[i] = json_string_length(s);
        (*texts)[i] = llp_strndup(json_string_value(s), (*lens)[i]);
    }
    return 0;
}

/* A message's content: a string, or an array of {"type": "text", "text": ...}
 * parts joined. malloc'd, or NULL having answered r. */
static char *message_content(llp_serve_request *r, json_t *c, size_t i)
{
    char param[64];
    snprintf(param, sizeof param, "messages[%zu].content", i);
    if (json_is_string(c)) return llp_strdup(json_string_value(c));
    if (!json_is_array(c)) {
        wrong_type(r, param, "a string or an array of text parts", c);
        return NULL;
    }
    size_t k, len = 0;
    json_t *part;
    json_array_foreach(c, k, part) {
        json_t *type = json_object_get(part, "type"), *text = json_object_get(part, "text");
        if (!json_is_object(part) || !json_is_string(type) ||
            strcmp(json_string_value(type), "text") || !json_is_string(text)) {
            llp_serve_error(r, 400, "invalid_value", param,
                            "%s[%zu]: only {\"type\": \"text\", \"text\": ...} parts are supported",
                            param, k);
            return NULL;
        }
        len += json_string_length(text);
    }
    char *s = llp_calloc(1, len + 1);
    json_array_foreach(c, k, part) strcat(s, json_string_value(json_object_get(part, "text")));
    return s;
}

int llp_serve_field_messages(llp_serve_request *r, json_t *obj, llp_chat_format fmt,
                             char **prompt)
{
    json_t *v = json_object_get(obj, "messages");
    if (!v) {
        llp_serve_error(r, 400, "missing_field", "messages", "messages: required");
        return -1;
    }
    if (!json_is_array(v)) return wrong_type(r, "messages", "an array", v);
    size_t n = json_array_size(v);
    if (n == 0 || n > 256) {
        llp_serve_error(r, 400, "invalid_value", "messages",
                        "messages: expected 1 to 256 messages, got %zu", n);
        return -1;
    }
    llp_chat_message *m = llp_calloc(n, sizeof *m);
    char **contents = llp_calloc(n, sizeof *contents);
    int rc = 0;
    bool any_user = false;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *msg = json_array_get(v, i);
        char param[64];
        snprintf(param, sizeof param, "messages[%zu]", i);
        if (!json_is_object(msg)) {
            rc = wrong_type(r, param, "an object", msg);
            break;
        }
        json_t *role = json_object_get(msg, "role");
        snprintf(param, sizeof param, "messages[%zu].role", i);
        if (!json_is_string(role)) {
            rc = role ? wrong_type(r, param, "a string", role) : -1;
            if (!role) llp_serve_error(r, 400, "missing_field", param, "%s: required", param);
            break;
        }
        const char *rs = json_string_value(role);
        if (strcmp(rs, "system") && strcmp(rs, "user") && strcmp(rs, "assistant") &&
            strcmp(rs, "developer")) {
            llp_serve_error(r, 400, "invalid_value", param,
                            "%s: '%s' is not one of system, developer, user, assistant", param,
                            rs);
            rc = -1;
            break;
        }
        json_t *c = json_object_get(msg, "content");
        if (!c || json_is_null(c)) {
            snprintf(param, sizeof param, "messages[%zu].content", i);
            llp_serve_error(r, 400, "missing_field", param, "%s: required", param);
            rc = -1;
            break;
        }
        if (!(contents[i] = message_content(r, c, i))) {
            rc = -1;
            break;
        }
        m[i].role = !strcmp(rs, "developer") ? "system" : rs;
        m[i].content = contents[i];
        any_user |= !strcmp(rs, "user");
    }
    if (rc == 0 && !any_user) {
        llp_serve_error(r, 400, "invalid_value", "messages", "messages: no user message");
        rc = -1;
    }
    if (rc == 0) *prompt = llp_chat_format_messages(fmt, m, (int)n);
    for (size_t i = 0; i < n; i++) free(contents[i]);
    free(contents);
    free(m);
    return rc;
}

const char *llp_serve_finish_reason(const char *stop)
{
    return stop && !strcmp(stop, "length") ? "length" : "stop";
}

char *llp_serve_base64(const void *data, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    char *out = llp_malloc((n + 2) / 3 * 4 + 1), *o = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        *o++ = abc[(v >> 6) & 63];
        *o++ = abc[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);
        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        *o++ = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = 0;
    return out;
}

char *llp_serve_stream_utf8(llp_serve_request *r, const char *bytes, size_t n, bool final)
{
    r->stream_text = llp_realloc(r->stream_text, r->stream_text_len + n + 1);
    memcpy(r->stream_text + r->stream_text_len, bytes, n);
    r->stream_text_len += n;
    r->stream_text[r->stream_text_len] = 0;
    size_t total = r->n_carry + n;
    char *buf = llp_malloc(total + 1);
    memcpy(buf, r->carry, r->n_carry);
    memcpy(buf + r->n_carry, bytes, n);
    /* hold back a sequence the next piece may complete: a lead byte and
     * fewer continuation bytes than it announces, at most 3 bytes */
    size_t keep = 0;
    if (!final) {
        for (size_t back = 1; back <= 3 && back <= total; back++) {
            unsigned char c = (unsigned char)buf[total - back];
            if ((c & 0xC0) == 0x80) continue;
            size_t need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 1;
            if (need > back) keep = back;
            break;
        }
    }
    r->n_carry = keep;
    memcpy(r->carry, buf + total - keep, keep);
    size_t out_len;
    char *out = llp_utf8_sanitize(buf, total - keep, &out_len);
    free(buf);
    return out;
}
