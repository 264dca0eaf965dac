package meeting

import (
	"fmt"
	"strings"
)

// Platform identifies the conferencing product a bot joins. The values are
// part of the public API and are persisted, so they must never change.
type Platform string

// The supported platforms.
const (
	Zoom           Platform = "zoom"
	MicrosoftTeams Platform = "microsoft-teams"
	GoogleMeet     Platform = "google-meet"
)

// Platforms returns every supported platform in a stable order. The slice is
// new on every call so callers cannot change the package's view of it.
func Platforms() []Platform {
	return []Platform{Zoom, MicrosoftTeams, GoogleMeet}
}

// ParsePlatform returns the platform named s. Matching is exact (no case
// folding or trimming) because the names are identifiers: accepting "Zoom"
// would let two spellings of one value reach storage.
func ParsePlatform(s string) (Platform, error) {
	names := make([]string, 0, len(Platforms()))
	for _, p := range Platforms() {
		if string(p) == s {
			return p, nil
		}
		names = append(names, string(p))
	}
	return "", &PlatformError{Reason: fmt.Sprintf("unknown platform %q; valid: %s", s, strings.Join(names, ", "))}
}
