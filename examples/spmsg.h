/* SPDX-License-Identifier: MIT */
/*
 * The message framing of the sockperf benchmark client, as the example
 * servers speak it over TCP.
 *
 * Every message starts with a 14-byte header in network byte order:
 *
 *   offset  size  field
 *        0     8  sequence number
 *        8     2  flags: SPMSG_CLIENT (sent by a client),
 *                 SPMSG_PONG (the client wants this message back),
 *                 SPMSG_WARMUP (not measured; never answered)
 *       10     4  length of the whole message, header included
 *
 * followed by length - 14 bytes of payload.  A server answers a client
 * message that has SPMSG_PONG and not SPMSG_WARMUP with the same bytes,
 * SPMSG_CLIENT cleared.  In ping-pong mode the client sets SPMSG_PONG on
 * every message; in under-load mode on one message in N (--reply-every).
 *
 * The servers buffer what they read and cut it into messages here, so a
 * message may arrive in any number of pieces and several messages in
 * one read.
 */
#ifndef SPMSG_H
#define SPMSG_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

#define SPMSG_HDR_LEN	14
#define SPMSG_MAX_LEN	65536		/* longest message a server accepts */
#define SPMSG_BUF_LEN	(2 * SPMSG_MAX_LEN)

#define SPMSG_CLIENT	0x1
#define SPMSG_PONG	0x2
#define SPMSG_WARMUP	0x4

struct spmsg_hdr {
	uint64_t seq;
	uint16_t flags;
	uint32_t len;
};

/* Decode the header at @p (at least SPMSG_HDR_LEN bytes). */
static inline void spmsg_parse(const unsigned char *p, struct spmsg_hdr *h)
{
	uint64_t seq;
	uint16_t flags;
	uint32_t len;

	memcpy(&seq, p, sizeof(seq));
	memcpy(&flags, p + 8, sizeof(flags));
	memcpy(&len, p + 10, sizeof(len));
	h->seq = be64toh(seq);
	h->flags = be16toh(flags);
	h->len = be32toh(len);
}

/* Encode @h at @p. */
static inline void spmsg_build(unsigned char *p, const struct spmsg_hdr *h)
{
	uint64_t seq = htobe64(h->seq);
	uint16_t flags = htobe16(h->flags);
	uint32_t len = htobe32(h->len);

	memcpy(p, &seq, sizeof(seq));
	memcpy(p + 8, &flags, sizeof(flags));
	memcpy(p + 10, &len, sizeof(len));
}

/* Rewrite the flags of the message at @p as a server's answer. */
static inline void spmsg_make_reply(unsigned char *p, const struct spmsg_hdr *h)
{
	uint16_t flags = htobe16(h->flags & ~SPMSG_CLIENT);

	memcpy(p + 8, &flags, sizeof(flags));
}

/* Whether a server answers the message with header @h. */
static inline int spmsg_wants_reply(const struct spmsg_hdr *h)
{
	return (h->flags & (SPMSG_CLIENT | SPMSG_PONG | SPMSG_WARMUP)) ==
	       (SPMSG_CLIENT | SPMSG_PONG);
}

/*
 * Length of the complete message at the start of @p (@have bytes
 * buffered): > 0 a whole message of that length is there; 0 more bytes
 * are needed; -1 the header is invalid (shorter than itself, or longer
 * than SPMSG_MAX_LEN), and the stream cannot be resynchronised.
 */
static inline long spmsg_complete(const unsigned char *p, size_t have,
				  struct spmsg_hdr *h)
{
	if (have < SPMSG_HDR_LEN)
		return 0;
	spmsg_parse(p, h);
	if (h->len < SPMSG_HDR_LEN || h->len > SPMSG_MAX_LEN)
		return -1;
	return have >= h->len ? (long)h->len : 0;
}

#endif /* SPMSG_H */
