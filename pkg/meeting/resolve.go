package meeting

import "fmt"

// Resolve validates a meeting link together with the platform the caller
// declared for it. An empty declared platform means "infer it from the link".
//
// The declared platform is checked first: an unknown value is a client bug,
// and there is nothing meaningful to compare a valid link against.
func Resolve(raw, declared string) (URL, error) {
	var want Platform
	if declared != "" {
		p, err := ParsePlatform(declared)
		if err != nil {
			return URL{}, err
		}
		want = p
	}
	u, err := ParseURL(raw)
	if err != nil {
		return URL{}, err
	}
	if want != "" && want != u.Platform {
		return URL{}, &PlatformError{Reason: fmt.Sprintf("%q does not match %s, which is a %s link", want, URLField, u.Platform)}
	}
	return u, nil
}
