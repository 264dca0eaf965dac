package operatorui

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// requireToken lets through requests that carry token as an HTTP Basic
// password (any user name: what a browser prompts for) or a Bearer token.
// Hashing both sides makes the comparison's time independent of length.
func requireToken(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := presented(r)
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="meeboter operator", charset="UTF-8"`)
			http.Error(w, "the operator token is required (HTTP Basic password or Bearer)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// presented is the token a request carries, if any.
func presented(r *http.Request) (string, bool) {
	if _, pass, ok := r.BasicAuth(); ok {
		return pass, true
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if ok && strings.EqualFold(scheme, "Bearer") && tok != "" {
		return tok, true
	}
	return "", false
}

// readOnly refuses every method but GET and HEAD: riverui's reads are all
// GETs, its changes POST, PUT or PATCH.
func readOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "the River UI is read-only here (RIVERUI_WRITE=true allows changes)", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
