package meeting

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlatforms(t *testing.T) {
	t.Parallel()
	got := Platforms()
	require.Equal(t, []Platform{Zoom, MicrosoftTeams, GoogleMeet}, got)

	got[0] = "mutated"
	require.Equal(t, Zoom, Platforms()[0], "callers must not be able to change the list")
}

func TestParsePlatform(t *testing.T) {
	t.Parallel()
	const valid = "; valid: zoom, microsoft-teams, google-meet"
	tests := []struct {
		in      string
		want    Platform
		wantErr string
	}{
		{in: "zoom", want: Zoom},
		{in: "microsoft-teams", want: MicrosoftTeams},
		{in: "google-meet", want: GoogleMeet},
		{in: "", wantErr: `meeting_platform: unknown platform ""` + valid},
		{in: "Zoom", wantErr: `meeting_platform: unknown platform "Zoom"` + valid},
		{in: " zoom", wantErr: `meeting_platform: unknown platform " zoom"` + valid},
		{in: "teams", wantErr: `meeting_platform: unknown platform "teams"` + valid},
		{in: "google_meet", wantErr: `meeting_platform: unknown platform "google_meet"` + valid},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePlatform(tc.in)
			if tc.wantErr != "" {
				var pe *PlatformError
				require.ErrorAs(t, err, &pe)
				require.EqualError(t, err, tc.wantErr)
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
