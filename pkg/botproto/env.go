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
	vals, err := fromEnv(getenv, EnvBotID, EnvAuthToken)
	if err != nil {
		return nil, err
	}
	return NewClient(vals[0], vals[1], vals[2], opts...), nil
}

// SlotClientFromEnv builds a SlotClient from EnvCallbackURL,
// EnvPoolSlotUUID and EnvPoolSlotToken, like ClientFromEnv.
func SlotClientFromEnv(getenv func(string) string, opts ...Option) (*SlotClient, error) {
	vals, err := fromEnv(getenv, EnvPoolSlotUUID, EnvPoolSlotToken)
	if err != nil {
		return nil, err
	}
	return NewSlotClient(vals[0], vals[1], vals[2], opts...), nil
}

// fromEnv reads EnvCallbackURL followed by names, checking that all are
// set and that the URL is an http(s) base URL. Values are never quoted in
// errors except the URL, which is not a secret.
func fromEnv(getenv func(string) string, names ...string) ([]string, error) {
	var missing []string
	vals := make([]string, 0, len(names)+1)
	for _, name := range append([]string{EnvCallbackURL}, names...) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			missing = append(missing, name)
		}
		vals = append(vals, v)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("botproto: missing environment variable(s): %s", strings.Join(missing, ", "))
	}
	base := vals[0]
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("botproto: %s=%q is not an http(s) base URL", EnvCallbackURL, base)
	}
	return vals, nil
}
