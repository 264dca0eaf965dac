package meeting

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// MaxURLLength bounds a meeting link. Real join links are far shorter (Teams
// links with their context JSON are the longest at a few hundred bytes), and
// 2048 is the de facto limit browsers and proxies honour.
const MaxURLLength = 2048

var tooLong = "must be at most " + strconv.Itoa(MaxURLLength) + " characters long"

// URL is a validated meeting link.
type URL struct {
	// Platform is inferred from the host.
	Platform Platform
	// Normalized is the link a bot should open: https, lowercased host, no
	// port, path and query as given, fragment dropped. The one exception is
	// a Teams web-app link, which becomes the meetup-join link in its
	// fragment (see teamsLauncher).
	Normalized string
	// MeetingID identifies the meeting within the platform: Zoom's numeric
	// ID or personal link name, the Meet code or lookup ID, the Teams thread
	// ID (percent-decoded) or numeric meet ID.
	MeetingID string
}

var (
	// Zoom meeting and webinar IDs are 9 (legacy), 10 (personal meeting
	// IDs) or 11 (scheduled) digits.
	zoomMeetingID = regexp.MustCompile(`^[0-9]{9,11}$`)
	// Zoom's rule for personal link names: 5-40 characters, starting with a
	// letter, then letters, digits and dots.
	zoomVanity = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9.]{4,39}$`)
	// Meet codes are always ten lowercase letters grouped 3-4-3.
	meetCode = regexp.MustCompile(`^[a-z]{3}-[a-z]{4}-[a-z]{3}$`)
	// Meet lookup IDs (meet.google.com/lookup/…, used by Workspace for
	// Education nicknames) are short lowercase alphanumerics.
	meetLookupID = regexp.MustCompile(`^[a-z0-9]{1,64}$`)
	// Every Teams chat, channel and meeting thread is "19:<id>@thread.<kind>"
	// (kind is v2 for meetings, tacv2 or skype for channels and old chats).
	teamsThreadID = regexp.MustCompile(`^19:[A-Za-z0-9._=+-]+@thread\.[a-z0-9]+$`)
	// Teams numeric meeting IDs seen in the wild are 12-15 digits; the range
	// leaves room for Microsoft to change the length without us rejecting
	// real meetings, while still refusing obvious garbage.
	teamsMeetID = regexp.MustCompile(`^[0-9]{9,20}$`)
	// A DNS host name: dot-separated labels of letters, digits and inner
	// hyphens. This rejects IP literals, empty labels and a trailing dot
	// before any suffix match on the host is trusted.
	hostName = regexp.MustCompile(`^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
)

// teamsHosts lists the Teams clouds exactly. Unlike Zoom, Teams does not put
// meetings on per-tenant subdomains, so there is no reason to accept any.
var teamsHosts = map[string]bool{
	"teams.microsoft.com":    true, // commercial and GCC
	"teams.live.com":         true, // Teams free / personal
	"teams.microsoft.us":     true, // US government
	"gov.teams.microsoft.us": true, // GCC High
	"dod.teams.microsoft.us": true, // DoD
}

// ParseURL checks that raw is a join link for a supported platform and
// infers the platform from its host. It is strict on purpose: the link is
// opened by a bot that runs unattended, so anything that is not clearly a
// meeting link on the platform's own domain is refused.
func ParseURL(raw string) (URL, error) {
	// People paste links out of invitations with stray whitespace around
	// them; inside a link, whitespace is never legitimate.
	s := strings.TrimSpace(raw)
	if s == "" {
		return URL{}, urlError("must not be empty")
	}
	if len(s) > MaxURLLength {
		return URL{}, urlError(tooLong)
	}
	// Real join links are plain ASCII. Refusing everything else shuts out
	// look-alike (homograph) hosts, and refusing backslashes avoids the
	// disagreement where browsers read "\" as "/" but Go's parser does not.
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return URL{}, urlError("must not contain spaces, backslashes, control or non-ASCII characters")
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return URL{}, urlError("is not a valid link")
	}
	if u.Scheme == "" {
		return URL{}, urlError("must be a full link starting with https://")
	}
	// Every platform serves join links over https; accepting anything else
	// (http, zoommtg:, javascript:) would hand a bot a link it must not open.
	if u.Scheme != "https" {
		return URL{}, urlError("must use https")
	}
	if u.Opaque != "" || u.Host == "" {
		return URL{}, urlError("must be a full link starting with https://")
	}
	// Credentials in a link are never part of a meeting invite, and
	// "https://meet.google.com@evil.com/" is a classic way to disguise a host.
	if u.User != nil {
		return URL{}, urlError("must not contain a username or password")
	}
	// The platforms only listen on 443; any other port means some other
	// server.
	if port := u.Port(); port != "" && port != "443" {
		return URL{}, urlError("must not specify a port")
	}

	host := strings.ToLower(u.Hostname())
	platform, ok := platformOf(host)
	if !ok {
		return URL{}, urlError("not a Zoom, Microsoft Teams or Google Meet link")
	}

	segs := pathSegments(u.EscapedPath())
	var id string
	switch platform {
	case Zoom:
		id, err = zoomID(segs)
	case GoogleMeet:
		id, err = meetID(segs)
	case MicrosoftTeams:
		if isTeamsLauncher(segs) {
			return teamsLauncher(host, u)
		}
		id, err = teamsID(segs)
	}
	if err != nil {
		return URL{}, err
	}

	normalized := "https://" + host + u.EscapedPath()
	if u.RawQuery != "" {
		normalized += "?" + u.RawQuery
	}
	// Re-escaping the path can lengthen it; keep the limit true for the
	// stored form as well, so Normalized always parses again.
	if len(normalized) > MaxURLLength {
		return URL{}, urlError(tooLong)
	}
	return URL{Platform: platform, Normalized: normalized, MeetingID: id}, nil
}

func urlError(reason string) error { return &URLError{Reason: reason} }

// platformOf maps a lowercased host to its platform. Suffix matches always
// include the leading dot so that "evilzoom.us" and "zoom.us.evil.com" fail.
func platformOf(host string) (Platform, bool) {
	if !hostName.MatchString(host) {
		return "", false
	}
	switch {
	// Zoom serves meetings on per-region (us02web) and per-company vanity
	// subdomains; zoomgov.com is Zoom for Government.
	case isDomainOrSub(host, "zoom.us"), isDomainOrSub(host, "zoomgov.com"):
		return Zoom, true
	case host == "meet.google.com":
		return GoogleMeet, true
	case teamsHosts[host]:
		return MicrosoftTeams, true
	}
	return "", false
}

func isDomainOrSub(host, domain string) bool {
	return host == domain || strings.HasSuffix(host, "."+domain)
}

// pathSegments splits an escaped path into segments, ignoring one leading
// and one trailing slash so "/abc-defg-hij/" and "/abc-defg-hij" match alike.
func pathSegments(p string) []string {
	p = strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// zoomID accepts the join paths Zoom generates: /j/ (meeting), /w/
// (webinar), /s/ (host start link), the web-client forms /wc/join/<id> and
// /wc/<id>/join, and /my/<name> personal links.
func zoomID(segs []string) (string, error) {
	var id string
	switch {
	case len(segs) == 2 && (segs[0] == "j" || segs[0] == "w" || segs[0] == "s"):
		id = segs[1]
	case len(segs) == 3 && segs[0] == "wc" && segs[1] == "join":
		id = segs[2]
	case len(segs) == 3 && segs[0] == "wc" && segs[2] == "join":
		id = segs[1]
	case len(segs) == 2 && segs[0] == "my":
		if !zoomVanity.MatchString(segs[1]) {
			return "", urlError("Zoom personal link name must be 5 to 40 letters, digits or dots, starting with a letter")
		}
		return segs[1], nil
	default:
		return "", urlError("Zoom link must look like https://zoom.us/j/123456789")
	}
	if !zoomMeetingID.MatchString(id) {
		return "", urlError("Zoom meeting ID must be 9 to 11 digits")
	}
	return id, nil
}

// meetID accepts /<code> and /lookup/<id>. Codes are matched exactly
// (lowercase, with dashes): Meet itself redirects other spellings, and a bot
// should be given the canonical one.
func meetID(segs []string) (string, error) {
	switch {
	case len(segs) == 1 && meetCode.MatchString(segs[0]):
		return segs[0], nil
	case len(segs) == 2 && segs[0] == "lookup":
		if !meetLookupID.MatchString(segs[1]) {
			return "", urlError("Google Meet lookup ID must be lowercase letters and digits")
		}
		return segs[1], nil
	}
	return "", urlError("Google Meet code must look like abc-defg-hij")
}

// teamsID accepts the classic /l/meetup-join/<thread>/<message> link and the
// newer /meet/<id>?p=<passcode> link used by Teams free and, increasingly,
// Teams work accounts.
func teamsID(segs []string) (string, error) {
	switch {
	case len(segs) >= 2 && segs[0] == "l" && segs[1] == "meetup-join":
		if len(segs) == 2 || segs[2] == "" {
			return "", urlError("Microsoft Teams link is missing the meeting thread ID")
		}
		// The thread ID is usually percent-encoded (19%3ameeting_…%40thread.v2)
		// but sometimes not; decode so both spellings yield one MeetingID.
		thread, err := url.PathUnescape(segs[2])
		if err != nil || !teamsThreadID.MatchString(thread) {
			return "", urlError("Microsoft Teams thread ID must look like 19:meeting_…@thread.v2")
		}
		return thread, nil
	case len(segs) == 2 && segs[0] == "meet":
		if !teamsMeetID.MatchString(segs[1]) {
			return "", urlError("Microsoft Teams meeting ID must be digits")
		}
		return segs[1], nil
	}
	return "", urlError("Microsoft Teams link must be a meeting join link (…/l/meetup-join/… or …/meet/…)")
}

// isTeamsLauncher reports whether the path is the Teams web app shell, which
// carries the meeting in the fragment: /v2/?meetingjoin=true#/l/meetup-join/…
// (current) or /_#/l/meetup-join/… (legacy). Browsers land there after
// following a meetup-join link, so users paste these too.
func isTeamsLauncher(segs []string) bool {
	return len(segs) == 1 && (segs[0] == "v2" || segs[0] == "_")
}

// teamsLauncher rewrites a launcher link into the meetup-join link its
// fragment names and validates that. Dropping the fragment, as other links
// do, would drop the meeting itself. The fragment starts with "/", so it can
// only become the path and cannot change the host.
func teamsLauncher(host string, u *url.URL) (URL, error) {
	frag := u.EscapedFragment()
	if !strings.HasPrefix(frag, "/l/meetup-join/") {
		return URL{}, urlError("Microsoft Teams link does not point to a meeting")
	}
	return ParseURL("https://" + host + frag)
}
