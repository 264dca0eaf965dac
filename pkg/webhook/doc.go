// Package webhook is the wire format, signing and single-attempt delivery of
// Meeboter's status webhooks. Retrying is the caller's job (a River worker):
// this package gives it one attempt (Sender.Send), whether a failure is worth
// retrying (Result.Retryable) and when to try again or give up (Backoff,
// GiveUp).
//
// # Payload
//
// Every delivery is a POST of one JSON object (Payload):
//
//	{
//	  "event_id": "4711",               // unique per event, increasing; the same on every retry
//	  "type": "bot.status_changed",
//	  "bot_id": "…",
//	  "status": "IN_CALL",
//	  "status_reason": null,            // or a string
//	  "occurred_at": "2025-01-02T03:04:05.123456789Z",
//	  "bot": { … }                      // the bot as GET /api/v1/bots/{id} shows it
//	}
//
// Delivery is at least once and unordered: receivers should deduplicate on
// event_id and may use occurred_at to ignore a status older than one they
// already have.
//
// # Signature
//
// A signed request carries
//
//	Meeboter-Event-Id:  <event_id>
//	Meeboter-Timestamp: <unix seconds when this attempt was sent>
//	Meeboter-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
//
// The timestamp is part of the signed string so a captured request cannot be
// replayed later, and every attempt is signed afresh, so a retry hours after
// the event still passes a receiver's tolerance check. The header may hold
// several comma-separated v1= values (for instance one per secret while a
// secret is being rotated); a request is authentic when any of them matches.
// Unknown schemes (anything but v1=) are ignored, which leaves room for a
// future v2.
//
// To verify a delivery without this package:
//
//  1. Read the raw request body; do not parse and re-encode it first.
//  2. Compute hex(HMAC-SHA256(secret, timestamp + "." + body)), where
//     timestamp is the Meeboter-Timestamp header exactly as received.
//  3. Split Meeboter-Signature on commas, keep the values after "v1=", and
//     compare each to the computed value in constant time (hmac.Equal,
//     crypto.timingSafeEqual, hmac.compare_digest…). Reject when none match.
//  4. Reject when the timestamp is more than a few minutes (we suggest five)
//     away from your clock.
//  5. Answer 2xx quickly and deduplicate on event_id.
//
// In Go, Verify does steps 2 to 4; ExampleVerify is a complete receiver.
//
// # Responses
//
// Any 2xx is success. Network errors, timeouts, 408, 429 and 5xx are retried
// with backoff for up to a day. Other 4xx mean the receiver rejected the
// delivery, so it is not retried; that includes 410 Gone. A 3xx is not
// followed, because a redirect would carry a signed payload to a URL the user
// never configured (and turn the POST into a GET), and it is not retried,
// because the answer will not change: fix the callback URL instead.
package webhook
