package controllers

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/riverqueue/river/rivertype"
)

// webhookArgsShown are the webhook args an operator sees, in this order:
// the short ones first, so they survive a list's cut. The others, url and
// body, hold a customer's callback URL (often with a token in it) and the
// customer's bot as sent to them. An allow-list, so that a field added to
// WebhookArgs later stays hidden until someone decides it may be shown.
var webhookArgsShown = []string{"event_id", "target", "bot_id"}

// OperatorView is what an operator may see of a job (meeboter jobs, the
// River UI): its args, and its attempts' errors. A webhook job shows only
// webhookArgsShown, and its URL is taken out of its errors: the sender
// keeps it out of its own, but an error wrapped elsewhere (a *url.Error
// quotes the URL) must not put the token on an operator's screen either.
// Other jobs show as they are (unreadable args as null).
func OperatorView(kind string, args []byte, errs []rivertype.AttemptError) (json.RawMessage, []rivertype.AttemptError) {
	shownErrs := slices.Clone(errs)
	if shownErrs == nil {
		shownErrs = []rivertype.AttemptError{}
	}
	if kind != (WebhookArgs{}).Kind() {
		if !json.Valid(args) {
			return json.RawMessage("null"), shownErrs
		}
		return args, shownErrs
	}
	var all map[string]json.RawMessage
	_ = json.Unmarshal(args, &all) // unreadable args show as {}
	var b bytes.Buffer
	b.WriteByte('{')
	for _, k := range webhookArgsShown {
		v, ok := all[k]
		if !ok {
			continue
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		b.Write(key)
		b.WriteByte(':')
		if json.Compact(&b, v) != nil {
			b.Write(v)
		}
	}
	b.WriteByte('}')
	var target struct {
		URL string `json:"url"`
	}
	if json.Unmarshal(args, &target) == nil && target.URL != "" {
		for i := range shownErrs {
			shownErrs[i].Error = strings.ReplaceAll(shownErrs[i].Error, target.URL, "[url]")
			shownErrs[i].Trace = strings.ReplaceAll(shownErrs[i].Trace, target.URL, "[url]")
		}
	}
	return b.Bytes(), shownErrs
}
