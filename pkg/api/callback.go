package api

import (
	"errors"

	"github.com/meeboter/meeboter/pkg/webhook"
)

// callbackFields checks a callback_url against where callbacks may go: a
// literal internal address, or a name that only resolves inside a network,
// is refused at once (the delivery's dial checks what names resolve to).
func (s *Server) callbackFields(u *string) []FieldError {
	if u == nil {
		return nil
	}
	err := s.Config.Callbacks.CheckURL(*u)
	switch {
	case errors.Is(err, webhook.ErrForbiddenDestination):
		return []FieldError{{"callback_url", "must reach a public address: loopback, private, link-local, metadata and other internal addresses and names are refused"}}
	case err != nil:
		return []FieldError{{"callback_url", "must be an absolute http(s) URL"}}
	}
	return nil
}
