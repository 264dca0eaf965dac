package meeting

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	reasonNotPlatform = "not a Zoom, Microsoft Teams or Google Meet link"
	reasonHTTPS       = "must use https"
	reasonFullLink    = "must be a full link starting with https://"
	reasonUserinfo    = "must not contain a username or password"
	reasonPort        = "must not specify a port"
	reasonChars       = "must not contain spaces, backslashes, control or non-ASCII characters"
	reasonZoomShape   = "Zoom link must look like https://zoom.us/j/123456789"
	reasonZoomID      = "Zoom meeting ID must be 9 to 11 digits"
	reasonZoomVanity  = "Zoom personal link name must be 5 to 40 letters, digits or dots, starting with a letter"
	reasonMeetCode    = "Google Meet code must look like abc-defg-hij"
	reasonTeamsShape  = "Microsoft Teams link must be a meeting join link (…/l/meetup-join/… or …/meet/…)"
	reasonTeamsThread = "Microsoft Teams thread ID must look like 19:meeting_…@thread.v2"
)

// A real-shaped Teams meetup-join link as Outlook invitations carry it.
const (
	teamsThread  = "19:meeting_NjQ5ZmJkNjAtYzU4Ny00ZjE2LWI2MDMtNWYyNTUyOWEwY2Q5@thread.v2"
	teamsContext = "context=%7b%22Tid%22%3a%2272f988bf-86f1-41af-91ab-2d7cd011db47%22%2c%22Oid%22%3a%22d2a8f4c1-5b3e-4d9a-8c7f-1e2d3c4b5a69%22%7d"
	teamsJoin    = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjQ5ZmJkNjAtYzU4Ny00ZjE2LWI2MDMtNWYyNTUyOWEwY2Q5%40thread.v2/0?" + teamsContext
)

// urlCases is shared with the fuzz target as its seed corpus. An empty
// reason means the link must be accepted as want.
var urlCases = []struct {
	name   string
	raw    string
	want   URL
	reason string
}{
	// Zoom.
	{name: "zoom regional subdomain with pwd", raw: "https://us02web.zoom.us/j/85012345678?pwd=aBcDeFgHiJkLmNoPqRsTuVwXyZ012345.1",
		want: URL{Zoom, "https://us02web.zoom.us/j/85012345678?pwd=aBcDeFgHiJkLmNoPqRsTuVwXyZ012345.1", "85012345678"}},
	{name: "zoom apex 9 digits", raw: "https://zoom.us/j/123456789",
		want: URL{Zoom, "https://zoom.us/j/123456789", "123456789"}},
	{name: "zoom vanity subdomain drops fragment", raw: "https://company.zoom.us/j/9876543210?pwd=xyz#success",
		want: URL{Zoom, "https://company.zoom.us/j/9876543210?pwd=xyz", "9876543210"}},
	{name: "zoom webinar", raw: "https://us06web.zoom.us/w/81234567890?tk=abc.DEF&pwd=ghi",
		want: URL{Zoom, "https://us06web.zoom.us/w/81234567890?tk=abc.DEF&pwd=ghi", "81234567890"}},
	{name: "zoom web client join", raw: "https://zoom.us/wc/join/85012345678",
		want: URL{Zoom, "https://zoom.us/wc/join/85012345678", "85012345678"}},
	{name: "zoom web client id first", raw: "https://app.zoom.us/wc/85012345678/join?fromPWA=1&pwd=abc",
		want: URL{Zoom, "https://app.zoom.us/wc/85012345678/join?fromPWA=1&pwd=abc", "85012345678"}},
	{name: "zoom start link", raw: "https://zoom.us/s/85012345678?zak=eyJ0eXAiOiJKV1Qi",
		want: URL{Zoom, "https://zoom.us/s/85012345678?zak=eyJ0eXAiOiJKV1Qi", "85012345678"}},
	{name: "zoom personal link", raw: "https://zoom.us/my/jane.doe",
		want: URL{Zoom, "https://zoom.us/my/jane.doe", "jane.doe"}},
	{name: "zoomgov www", raw: "https://www.zoomgov.com/j/1612345678?pwd=abc",
		want: URL{Zoom, "https://www.zoomgov.com/j/1612345678?pwd=abc", "1612345678"}},
	{name: "zoomgov apex", raw: "https://zoomgov.com/j/1612345678",
		want: URL{Zoom, "https://zoomgov.com/j/1612345678", "1612345678"}},
	{name: "uppercase host and scheme", raw: "HTTPS://US02WEB.ZOOM.US/j/85012345678",
		want: URL{Zoom, "https://us02web.zoom.us/j/85012345678", "85012345678"}},
	{name: "explicit port 443 dropped", raw: "https://zoom.us:443/j/123456789",
		want: URL{Zoom, "https://zoom.us/j/123456789", "123456789"}},
	{name: "surrounding whitespace trimmed", raw: "  \thttps://zoom.us/j/123456789  \n",
		want: URL{Zoom, "https://zoom.us/j/123456789", "123456789"}},
	{name: "zoom lookalike suffix host", raw: "https://zoom.us.evil.com/j/123456789", reason: reasonNotPlatform},
	{name: "zoom lookalike prefix host", raw: "https://evilzoom.us/j/1", reason: reasonNotPlatform},
	{name: "zoom trailing dot host", raw: "https://zoom.us./j/123456789", reason: reasonNotPlatform},
	{name: "zoom bad subdomain label", raw: "https://-x.zoom.us/j/123456789", reason: reasonNotPlatform},
	{name: "zoom empty subdomain label", raw: "https://a..zoom.us/j/123456789", reason: reasonNotPlatform},
	{name: "zoom.com is not a join domain", raw: "https://zoom.com/j/123456789", reason: reasonNotPlatform},
	{name: "zoom 8 digits", raw: "https://zoom.us/j/12345678", reason: reasonZoomID},
	{name: "zoom 12 digits", raw: "https://zoom.us/j/123456789012", reason: reasonZoomID},
	{name: "zoom letters in id", raw: "https://zoom.us/j/12345678a", reason: reasonZoomID},
	{name: "zoom id with spaces encoded", raw: "https://zoom.us/j/123%20456%20789", reason: reasonZoomID},
	{name: "zoom home page", raw: "https://zoom.us/", reason: reasonZoomShape},
	{name: "zoom no path", raw: "https://zoom.us", reason: reasonZoomShape},
	{name: "zoom sign in", raw: "https://zoom.us/signin", reason: reasonZoomShape},
	{name: "zoom uppercase path", raw: "https://zoom.us/J/123456789", reason: reasonZoomShape},
	{name: "zoom dot segments", raw: "https://zoom.us/x/../j/123456789", reason: reasonZoomShape},
	{name: "zoom personal link too short", raw: "https://zoom.us/my/ab", reason: reasonZoomVanity},
	{name: "zoom personal link starts with digit", raw: "https://zoom.us/my/1abcde", reason: reasonZoomVanity},
	{name: "zoom http", raw: "http://zoom.us/j/123456789", reason: reasonHTTPS},
	{name: "zoom client scheme", raw: "zoommtg://zoom.us/join?confno=123456789", reason: reasonHTTPS},
	{name: "zoom port 8443", raw: "https://zoom.us:8443/j/123456789", reason: reasonPort},

	// Google Meet.
	{name: "meet code", raw: "https://meet.google.com/abc-defg-hij",
		want: URL{GoogleMeet, "https://meet.google.com/abc-defg-hij", "abc-defg-hij"}},
	{name: "meet trailing slash", raw: "https://meet.google.com/abc-defg-hij/",
		want: URL{GoogleMeet, "https://meet.google.com/abc-defg-hij/", "abc-defg-hij"}},
	{name: "meet query kept", raw: "https://meet.google.com/abc-defg-hij?authuser=1&hs=122",
		want: URL{GoogleMeet, "https://meet.google.com/abc-defg-hij?authuser=1&hs=122", "abc-defg-hij"}},
	{name: "meet fragment dropped", raw: "https://meet.google.com/abc-defg-hij#chat",
		want: URL{GoogleMeet, "https://meet.google.com/abc-defg-hij", "abc-defg-hij"}},
	{name: "meet mixed case host", raw: "https://Meet.Google.COM/abc-defg-hij",
		want: URL{GoogleMeet, "https://meet.google.com/abc-defg-hij", "abc-defg-hij"}},
	{name: "meet lookup", raw: "https://meet.google.com/lookup/ghr6bsmlx5",
		want: URL{GoogleMeet, "https://meet.google.com/lookup/ghr6bsmlx5", "ghr6bsmlx5"}},
	{name: "meet lookalike host", raw: "https://meet.google.com.evil.com/abc-defg-hij", reason: reasonNotPlatform},
	{name: "meet other google host", raw: "https://google.com/abc-defg-hij", reason: reasonNotPlatform},
	{name: "meet subdomain", raw: "https://x.meet.google.com/abc-defg-hij", reason: reasonNotPlatform},
	{name: "meet wrong tld", raw: "https://meet.google.co/abc-defg-hij", reason: reasonNotPlatform},
	{name: "meet userinfo", raw: "https://user@meet.google.com/abc-defg-hij", reason: reasonUserinfo},
	{name: "meet userinfo with password", raw: "https://user:pass@meet.google.com/abc-defg-hij", reason: reasonUserinfo},
	{name: "meet empty userinfo", raw: "https://@meet.google.com/abc-defg-hij", reason: reasonUserinfo},
	{name: "meet host disguised as userinfo", raw: "https://meet.google.com@evil.com/abc-defg-hij", reason: reasonUserinfo},
	{name: "meet port 8443", raw: "https://meet.google.com:8443/abc-defg-hij", reason: reasonPort},
	{name: "meet uppercase code", raw: "https://meet.google.com/ABC-DEFG-HIJ", reason: reasonMeetCode},
	{name: "meet code without dashes", raw: "https://meet.google.com/abcdefghij", reason: reasonMeetCode},
	{name: "meet code too long", raw: "https://meet.google.com/abc-defg-hijk", reason: reasonMeetCode},
	{name: "meet code with digits", raw: "https://meet.google.com/ab1-defg-hij", reason: reasonMeetCode},
	{name: "meet new", raw: "https://meet.google.com/new", reason: reasonMeetCode},
	{name: "meet home", raw: "https://meet.google.com/", reason: reasonMeetCode},
	{name: "meet extra segment", raw: "https://meet.google.com/abc-defg-hij/extra", reason: reasonMeetCode},
	{name: "meet bad lookup id", raw: "https://meet.google.com/lookup/Bad_Id", reason: "Google Meet lookup ID must be lowercase letters and digits"},
	{name: "meet without scheme", raw: "meet.google.com/abc-defg-hij", reason: reasonFullLink},
	{name: "meet scheme relative", raw: "//meet.google.com/abc-defg-hij", reason: reasonFullLink},
	{name: "meet opaque", raw: "https:meet.google.com/abc-defg-hij", reason: reasonFullLink},
	{name: "meet empty host", raw: "https:///abc-defg-hij", reason: reasonFullLink},
	{name: "meet cyrillic homograph", raw: "https://me\u0435t.google.com/abc-defg-hij", reason: reasonChars},

	// Microsoft Teams.
	{name: "teams meetup-join encoded", raw: teamsJoin,
		want: URL{MicrosoftTeams, teamsJoin, teamsThread}},
	{name: "teams meetup-join unencoded", raw: "https://teams.microsoft.com/l/meetup-join/" + teamsThread + "/0",
		want: URL{MicrosoftTeams, "https://teams.microsoft.com/l/meetup-join/" + teamsThread + "/0", teamsThread}},
	{name: "teams channel meeting", raw: "https://teams.microsoft.com/l/meetup-join/19%3a0123456789abcdef0123456789abcdef%40thread.tacv2/1612345678901?" + teamsContext,
		want: URL{MicrosoftTeams, "https://teams.microsoft.com/l/meetup-join/19%3a0123456789abcdef0123456789abcdef%40thread.tacv2/1612345678901?" + teamsContext, "19:0123456789abcdef0123456789abcdef@thread.tacv2"}},
	{name: "teams free meet", raw: "https://teams.live.com/meet/9558483617843?p=AbCdEfGhIjKl",
		want: URL{MicrosoftTeams, "https://teams.live.com/meet/9558483617843?p=AbCdEfGhIjKl", "9558483617843"}},
	{name: "teams work meet with passcode", raw: "https://teams.microsoft.com/meet/21234567890123?p=XyZ123abc",
		want: URL{MicrosoftTeams, "https://teams.microsoft.com/meet/21234567890123?p=XyZ123abc", "21234567890123"}},
	{name: "teams gcc high", raw: "https://gov.teams.microsoft.us/l/meetup-join/19%3ameeting_abc%40thread.v2/0",
		want: URL{MicrosoftTeams, "https://gov.teams.microsoft.us/l/meetup-join/19%3ameeting_abc%40thread.v2/0", "19:meeting_abc@thread.v2"}},
	{name: "teams dod", raw: "https://dod.teams.microsoft.us/l/meetup-join/19%3ameeting_abc%40thread.v2/0",
		want: URL{MicrosoftTeams, "https://dod.teams.microsoft.us/l/meetup-join/19%3ameeting_abc%40thread.v2/0", "19:meeting_abc@thread.v2"}},
	{name: "teams us gov", raw: "https://teams.microsoft.us/l/meetup-join/19%3ameeting_abc%40thread.v2/0",
		want: URL{MicrosoftTeams, "https://teams.microsoft.us/l/meetup-join/19%3ameeting_abc%40thread.v2/0", "19:meeting_abc@thread.v2"}},
	{name: "teams v2 launcher", raw: "https://teams.microsoft.com/v2/?meetingjoin=true#/l/meetup-join/" + teamsThread + "/0?" + teamsContext + "&anon=true&deeplinkId=5d1c9b7e",
		want: URL{MicrosoftTeams, "https://teams.microsoft.com/l/meetup-join/" + teamsThread + "/0?" + teamsContext + "&anon=true&deeplinkId=5d1c9b7e", teamsThread}},
	{name: "teams legacy launcher", raw: "https://teams.microsoft.com/_#/l/meetup-join/" + teamsThread + "/0",
		want: URL{MicrosoftTeams, "https://teams.microsoft.com/l/meetup-join/" + teamsThread + "/0", teamsThread}},
	{name: "teams lookalike host", raw: "https://teams.microsoft.com.evil.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0", reason: reasonNotPlatform},
	{name: "teams unknown subdomain", raw: "https://evil.teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0", reason: reasonNotPlatform},
	{name: "teams missing thread", raw: "https://teams.microsoft.com/l/meetup-join/", reason: "Microsoft Teams link is missing the meeting thread ID"},
	{name: "teams empty thread", raw: "https://teams.microsoft.com/l/meetup-join//0", reason: "Microsoft Teams link is missing the meeting thread ID"},
	{name: "teams malformed thread", raw: "https://teams.microsoft.com/l/meetup-join/not-a-thread/0", reason: reasonTeamsThread},
	{name: "teams bad escape in thread", raw: "https://teams.microsoft.com/l/meetup-join/19%3ameeting_a%2Fb%40thread.v2/0", reason: reasonTeamsThread},
	{name: "teams channel link", raw: "https://teams.microsoft.com/l/channel/19%3a0123%40thread.tacv2/General", reason: reasonTeamsShape},
	{name: "teams home", raw: "https://teams.microsoft.com/", reason: reasonTeamsShape},
	{name: "teams meet letters", raw: "https://teams.microsoft.com/meet/abc?p=x", reason: "Microsoft Teams meeting ID must be digits"},
	{name: "teams launcher without meeting", raw: "https://teams.microsoft.com/v2/?meetingjoin=true", reason: "Microsoft Teams link does not point to a meeting"},
	{name: "teams launcher other view", raw: "https://teams.microsoft.com/v2/#/calendarv2", reason: "Microsoft Teams link does not point to a meeting"},
	{name: "teams launcher empty thread", raw: "https://teams.microsoft.com/v2/?meetingjoin=true#/l/meetup-join/", reason: "Microsoft Teams link is missing the meeting thread ID"},

	// Not meeting links at all.
	{name: "empty", raw: "", reason: "must not be empty"},
	{name: "only spaces", raw: "   ", reason: "must not be empty"},
	{name: "javascript", raw: "javascript:alert(document.cookie)", reason: reasonHTTPS},
	{name: "javascript with space", raw: "javascript:alert('a b')", reason: reasonChars},
	{name: "data url", raw: "data:text/html,<script>alert(1)</script>", reason: reasonHTTPS},
	{name: "ftp", raw: "ftp://zoom.us/j/123456789", reason: reasonHTTPS},
	{name: "inner space", raw: "https://meet.google.com/abc-defg-hij?x=a b", reason: reasonChars},
	{name: "nul byte", raw: "https://meet.google.com/abc-defg-hij\x00", reason: reasonChars},
	{name: "backslash host confusion", raw: `https://evil.com\@meet.google.com/abc-defg-hij`, reason: reasonChars},
	{name: "encoded host", raw: "https://zoom.us%2eevil.com/j/123456789", reason: "is not a valid link"},
	{name: "ipv4 host", raw: "https://127.0.0.1/j/123456789", reason: reasonNotPlatform},
	{name: "ipv6 host", raw: "https://[::1]/j/123456789", reason: reasonNotPlatform},
	{name: "plain website", raw: "https://example.com/", reason: reasonNotPlatform},
	{name: "too long", raw: "https://zoom.us/j/123456789?pwd=" + strings.Repeat("a", MaxURLLength), reason: "must be at most 2048 characters long"},
	{name: "exactly max length", raw: maxLengthZoom,
		want: URL{Zoom, maxLengthZoom, "123456789"}},
}

var maxLengthZoom = "https://zoom.us/j/123456789?pwd=" + strings.Repeat("a", MaxURLLength-len("https://zoom.us/j/123456789?pwd="))

func TestParseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range urlCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseURL(tc.raw)
			if tc.reason != "" {
				var ue *URLError
				require.ErrorAs(t, err, &ue)
				require.Equal(t, tc.reason, ue.Reason)
				require.Equal(t, "meeting_url: "+tc.reason, err.Error())
				require.Zero(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
