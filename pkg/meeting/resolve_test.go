package meeting

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	const meetLink = "https://meet.google.com/abc-defg-hij"
	meet := URL{Platform: GoogleMeet, Normalized: meetLink, MeetingID: "abc-defg-hij"}

	tests := []struct {
		name        string
		raw         string
		declared    string
		want        URL
		urlErr      string
		platformErr string
	}{
		{name: "inferred", raw: meetLink, want: meet},
		{name: "declared matches", raw: meetLink, declared: "google-meet", want: meet},
		{name: "teams inferred", raw: "https://teams.live.com/meet/9558483617843?p=Ab", declared: "microsoft-teams",
			want: URL{Platform: MicrosoftTeams, Normalized: "https://teams.live.com/meet/9558483617843?p=Ab", MeetingID: "9558483617843"}},
		{name: "unknown platform", raw: meetLink, declared: "webex",
			platformErr: `meeting_platform: unknown platform "webex"; valid: zoom, microsoft-teams, google-meet`},
		{name: "mismatch", raw: meetLink, declared: "zoom",
			platformErr: `meeting_platform: "zoom" does not match meeting_url, which is a google-meet link`},
		{name: "bad url with valid platform", raw: "https://evil.example/abc-defg-hij", declared: "google-meet",
			urlErr: "meeting_url: not a Zoom, Microsoft Teams or Google Meet link"},
		{name: "bad url inferred", raw: "http://zoom.us/j/123456789",
			urlErr: "meeting_url: must use https"},
		// Both wrong: the unknown platform is reported, as documented.
		{name: "both invalid", raw: "nope", declared: "skype",
			platformErr: `meeting_platform: unknown platform "skype"; valid: zoom, microsoft-teams, google-meet`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Resolve(tc.raw, tc.declared)
			switch {
			case tc.urlErr != "":
				var ue *URLError
				require.ErrorAs(t, err, &ue)
				require.EqualError(t, err, tc.urlErr)
				require.Zero(t, got)
			case tc.platformErr != "":
				var pe *PlatformError
				require.ErrorAs(t, err, &pe)
				require.EqualError(t, err, tc.platformErr)
				require.Zero(t, got)
			default:
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
			}
		})
	}
}
