package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of metadata beyond its size: what Postgres's jsonb can store, and
// a nesting no caller needs.
const (
	// MaxMetadataDepth bounds the nesting of objects and arrays.
	MaxMetadataDepth = 64
	// Postgres numeric (jsonb's number) holds up to 131072 digits before
	// the decimal point and 16383 after.
	maxNumberIntDigits  = 131072
	maxNumberFracDigits = 16383
)

// validateBotName trims name and checks it: 1 to MaxBotNameLength
// characters, none of them a control, format (bidi overrides, zero-width)
// or line/paragraph separator character, which would let a name rewrite
// what a terminal, log or meeting roster shows around it.
func validateBotName(raw string, add func(string, string, ...any)) string {
	name := strings.TrimSpace(raw)
	if name == "" || utf8.RuneCountInString(name) > MaxBotNameLength {
		add("bot_name", "must be 1 to %d characters", MaxBotNameLength)
		return name
	}
	for _, c := range name {
		if unicode.In(c, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
			add("bot_name", "must not contain control or format characters (found U+%04X)", c)
			break
		}
	}
	return name
}

// checkJSONB reports why compact JSON would be refused by Postgres's jsonb
// (an unpaired surrogate or NUL escape, invalid UTF-8, a number numeric
// cannot hold) or nests deeper than MaxMetadataDepth; "" when none.
func checkJSONB(compact []byte) string {
	if !utf8.Valid(compact) {
		return "must be valid UTF-8"
	}
	if msg := checkEscapes(compact); msg != "" {
		return msg
	}
	dec := json.NewDecoder(bytes.NewReader(compact))
	dec.UseNumber()
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil {
			return "must be a JSON object"
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				depth++
			} else {
				depth--
			}
			if depth > MaxMetadataDepth {
				return fmt.Sprintf("must not nest objects and arrays more than %d deep", MaxMetadataDepth)
			}
		case json.Number:
			if !numericFits(string(v)) {
				return fmt.Sprintf("numbers must have at most %d digits before the decimal point and %d after (exponent applied)",
					maxNumberIntDigits, maxNumberFracDigits)
			}
		}
	}
}

// checkEscapes finds \u escapes jsonb refuses: \u0000 and surrogates that
// are not a high one followed by a low one. Outside strings valid JSON has
// no backslash, so a plain scan suffices.
func checkEscapes(b []byte) string {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		i++ // the escaped character; \\ is skipped whole
		if b[i] != 'u' {
			continue
		}
		cp, _ := strconv.ParseUint(string(b[i+1:i+5]), 16, 32)
		i += 4
		switch {
		case cp == 0:
			return "must not contain NUL characters (\\u0000)"
		case cp >= 0xDC00 && cp <= 0xDFFF:
			return "must not contain unpaired UTF-16 surrogates (\\uDC00-\\uDFFF alone)"
		case cp >= 0xD800 && cp <= 0xDBFF:
			low := uint64(0)
			if i+6 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
				low, _ = strconv.ParseUint(string(b[i+3:i+7]), 16, 32)
			}
			if low < 0xDC00 || low > 0xDFFF {
				return "must not contain unpaired UTF-16 surrogates (\\uD800-\\uDBFF without a low one)"
			}
			i += 6
		}
	}
	return ""
}

// numericFits reports whether the JSON number lit fits Postgres's numeric:
// at most maxNumberIntDigits before the point and maxNumberFracDigits
// after, once the exponent is applied.
func numericFits(lit string) bool {
	mant, expStr, _ := strings.Cut(strings.ToLower(strings.TrimPrefix(lit, "-")), "e")
	exp := int64(0)
	if expStr != "" {
		var err error
		// Beyond ±2^30 Postgres refuses even a zero.
		if exp, err = strconv.ParseInt(expStr, 10, 64); err != nil || exp > 1<<30 || exp < -(1<<30) {
			return false
		}
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if int64(len(frac))-exp > maxNumberFracDigits {
		return false
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return true // zero
	}
	// The first significant digit's place: 10^(magnitude-1).
	magnitude := int64(len(digits)) - int64(len(frac)) + exp
	return magnitude <= maxNumberIntDigits
}
