package coolifysim

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"time"
)

const (
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	alnum      = lowerAlnum + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

func randomString(rng *rand.Rand, n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// randomID is a Coolify public id: since v4.2.0 new_public_id() is
// Str::lower(Str::random(24)), 24 characters of [a-z0-9].
func randomID(rng *rand.Rand) string { return randomString(rng, 24, lowerAlnum) }

// laravelTime formats t as Laravel serialises dates into JSON.
func laravelTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// timeOrNull is laravelTime, or null for the zero time.
func timeOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return laravelTime(t)
}

// apiObject serialises like Coolify's serializeApiResponse(): keys sorted,
// created_at/updated_at moved last, then name, description, uuid and id
// prepended when they are set — the order a faithful client sees.
type apiObject map[string]any

func (o apiObject) MarshalJSON() ([]byte, error) {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	rank := func(k string) int {
		switch k {
		case "id", "uuid", "description", "name":
			if isSet(o[k]) {
				return slices.Index([]string{"id", "uuid", "description", "name"}, k) - 10
			}
		case "created_at", "updated_at":
			if isSet(o[k]) {
				return slices.Index([]string{"created_at", "updated_at"}, k) + 10
			}
		}
		return 0
	}
	slices.SortStableFunc(keys, func(a, b string) int { return rank(a) - rank(b) })
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		vb, err := json.Marshal(o[k])
		if err != nil {
			return nil, err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// isSet is PHP's truthiness as data_get() callers use it here.
func isSet(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != ""
	}
	return true
}
