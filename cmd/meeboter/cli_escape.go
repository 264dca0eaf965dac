package main

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// hidden are the characters a terminal does not show as themselves: C0/C1
// controls (escape sequences), format characters (bidi overrides, zero
// widths) and line/paragraph separators. A bot name, a bot-reported reason
// or event data holding them could rewrite what the operator sees.
func hidden(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

// printable escapes hidden characters and invalid UTF-8 as \uXXXX (and
// \n, \t, \r), so text from the API prints as inert, visible characters.
func printable(s string) string {
	if !strings.ContainsFunc(s, hidden) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02X`, s[i])
		case hidden(r):
			b.WriteString(jsonEscape(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// jsonEscape is r as JSON \u escapes (a surrogate pair above U+FFFF).
func jsonEscape(r rune) string {
	if r > 0xFFFF {
		hi, lo := utf16.EncodeRune(r)
		return fmt.Sprintf(`\u%04x\u%04x`, hi, lo)
	}
	return fmt.Sprintf(`\u%04x`, r)
}

// escapeJSONText escapes the hidden characters JSON allows raw in strings
// (DEL, C1 controls, format characters, U+2028/U+2029). The document means
// the same: outside strings JSON has only ASCII punctuation and spaces.
func escapeJSONText(js []byte) []byte {
	if !strings.ContainsFunc(string(js), func(r rune) bool { return r > 0x7e && hidden(r) }) {
		return js
	}
	var b strings.Builder
	for _, r := range string(js) {
		if r > 0x7e && hidden(r) {
			b.WriteString(jsonEscape(r))
			continue
		}
		b.WriteRune(r)
	}
	return []byte(b.String())
}
