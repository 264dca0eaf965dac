package meeting

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParseMeetingURL checks the properties callers rely on for any input:
// no panic, accepted links are https, and Normalized is a fixed point, so a
// stored link re-validates to the same platform and meeting.
func FuzzParseMeetingURL(f *testing.F) {
	for _, tc := range urlCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ParseURL(raw)
		if err != nil {
			var ue *URLError
			require.ErrorAs(t, err, &ue)
			require.NotEmpty(t, ue.Reason)
			return
		}
		require.True(t, strings.HasPrefix(u.Normalized, "https://"), "Normalized %q", u.Normalized)
		require.LessOrEqual(t, len(u.Normalized), MaxURLLength)
		require.NotEmpty(t, u.MeetingID)

		again, err := ParseURL(u.Normalized)
		require.NoError(t, err, "Normalized %q of %q must parse", u.Normalized, raw)
		require.Equal(t, u, again, "Normalized %q of %q must be a fixed point", u.Normalized, raw)
	})
}
