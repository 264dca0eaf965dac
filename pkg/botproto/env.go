package botproto

import (
	"fmt"
	"net/url"
	"strings"
)

// ClientFromEnv builds a Client from EnvCallbackURL, EnvBotID and
// EnvAuthToken as read through getenv (os.Getenv in production; a map in
// tests). All missing variables are named in one error so a misconfigured
// container fails with the whole story.
func ClientFromEnv(getenv func(string) string, opts ...Option) (*Client, error) {
	var missing []string
	get := func(name string) string {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			missing = append(missing, name)
		}
		return v
	}
	base, botID, token := get(EnvCallbackURL), get(EnvBotID), get(EnvAuthToken)
	if len(missing) > 0 {
		return nil, fmt.Errorf("botproto: missing environment variable(s): %s", strings.Join(missing, ", "))
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("botproto: %s=%q is not an http(s) base URL", EnvCallbackURL, base)
	}
	return NewClient(base, botID, token, opts...), nil
}
