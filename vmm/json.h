/* json.h - JSON as kvmlite writes it: strings, and a guest's `info` answer as the object docs/json.md specifies. */
#ifndef KVMLITE_JSON_H
#define KVMLITE_JSON_H

#include <stddef.h>

#include "types.h"

/*
 * Both write into out like snprintf: at most cap - 1 chars and a NUL,
 * and return the length the whole text needs (cut when that is >= cap).
 */

/*
 * n bytes as a JSON string, quotes included: '"' and '\\' escaped, and
 * every byte outside 0x20-0x7e as \u00XX (a byte >= 0x80 reads as
 * Latin-1), so the text is valid JSON and ASCII whatever the bytes.
 */
size_t json_string(const char *s, size_t n, char *out, size_t cap);

/*
 * A shard's answer to `info ID`, the words after "ok " ("STATE booted=1
 * exits=42 ... bios_missing=0 [reason=TEXT]", docs/control-protocol.md),
 * as {"id":ID,"state":"STATE","booted":true,"exits":42,...,"reason":"TEXT"}
 * (docs/json.md, info): booted becomes a boolean, a decimal value a
 * number, any other value a string; reason is last and takes the rest
 * of the line, spaces included. Returns 0 (writing nothing) when rest is
 * not such an answer.
 */
size_t json_info(u32 id, const char *rest, size_t len, char *out, size_t cap);

#endif
