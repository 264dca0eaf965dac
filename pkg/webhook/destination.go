package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrForbiddenDestination is a callback that would reach inside our
// network: a loopback, private, link-local (cloud metadata), CGNAT,
// unique-local, multicast, unspecified or otherwise special address, or a
// name that only resolves inside a network.
var ErrForbiddenDestination = errors.New("webhook: callback destination is not a public address")

// Destinations decides where callbacks may go. Addresses are checked where
// the connection is made (a net.Dialer control hook), after DNS, on every
// connection: a name that resolves to a public address at create and to
// 127.0.0.1 at delivery (DNS rebinding) is refused then. The zero value
// allows public addresses only.
type Destinations struct {
	// Allow lists networks and host names that may be reached although
	// they are internal: receivers an operator runs inside (and tests on
	// loopback). A host name here is allowed at create; its addresses must
	// still be public or in an allowed network at delivery.
	AllowNets  []netip.Prefix
	AllowHosts []string
}

// Anywhere allows every address: for receivers the operator chose
// (WEBHOOK_URL), not tenants.
var Anywhere = Destinations{AllowNets: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}}

// ParseDestinations reads an allow-list: comma-separated CIDRs, addresses
// and host names.
func ParseDestinations(list string) (Destinations, error) {
	var d Destinations
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		switch {
		case item == "":
			continue
		case strings.Contains(item, "/"):
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return Destinations{}, fmt.Errorf("%q is not a CIDR", item)
			}
			d.AllowNets = append(d.AllowNets, p.Masked())
		default:
			if a, err := netip.ParseAddr(item); err == nil {
				d.AllowNets = append(d.AllowNets, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				continue
			}
			d.AllowHosts = append(d.AllowHosts, strings.ToLower(strings.TrimSuffix(item, ".")))
		}
	}
	return d, nil
}

// special are the IPv4 and IPv6 ranges that are not the public internet,
// beyond what netip's predicates cover (IANA special-purpose registries).
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fc00::/7"),        // unique local (IsPrivate too)
	netip.MustParsePrefix("fec0::/10"),       // site local (deprecated)
}

// embeddedV4 are IPv6 forms that carry an IPv4 address a gateway may reach:
// NAT64 (the last 32 bits) and 6to4 (bits 16–48).
var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	nat64L = netip.MustParsePrefix("64:ff9b:1::/48")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// CheckAddr reports whether a callback may connect to a.
func (d Destinations) CheckAddr(a netip.Addr) error {
	a = a.Unmap().WithZone("")
	if d.allowedAddr(a) {
		return nil
	}
	if !publicAddr(a) {
		return ErrForbiddenDestination
	}
	if v4, ok := embedded(a); ok && !d.allowedAddr(v4) && !publicAddr(v4) {
		return ErrForbiddenDestination
	}
	return nil
}

func (d Destinations) allowedAddr(a netip.Addr) bool {
	for _, p := range d.AllowNets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func publicAddr(a netip.Addr) bool {
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsMulticast() ||
		a.IsUnspecified() || a.IsInterfaceLocalMulticast() || a.IsLinkLocalMulticast() {
		return false
	}
	for _, p := range special {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

func embedded(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	switch {
	case nat64.Contains(a), nat64L.Contains(a):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	case sixTo4.Contains(a):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	return netip.Addr{}, false
}

// CheckURL validates a callback URL when it is given: an absolute http(s)
// URL whose host is not an internal address or an obviously internal name
// (localhost, single-label names, .local, .internal, .localhost,
// .home.arpa). Names are not resolved here — that is the dial's job — so
// this never waits on DNS. Its errors never quote the URL.
func (d Destinations) CheckURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return errors.New("not an absolute http(s) URL")
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if a, err := netip.ParseAddr(host); err == nil {
		return d.CheckAddr(a)
	}
	if a, ok := legacyIPv4(host); ok {
		return d.CheckAddr(a)
	}
	for _, h := range d.AllowHosts {
		if host == h {
			return nil
		}
	}
	if internalName(host) {
		return ErrForbiddenDestination
	}
	return nil
}

// internalName is a host name that resolves only inside a network.
func internalName(host string) bool {
	if !strings.Contains(host, ".") {
		return true // localhost, a container or service name
	}
	for _, suffix := range []string{".localhost", ".local", ".internal", ".home.arpa", ".localdomain", ".lan", ".intranet", ".corp"} {
		if strings.HasSuffix(host, suffix) {
			return true
		}
	}
	return false
}

// legacyIPv4 reads the forms inet_aton accepts and URL parsers pass on as
// names (0x7f000001, 2130706433, 0177.0.0.1, 127.1): some resolvers turn
// them into addresses.
func legacyIPv4(host string) (netip.Addr, bool) {
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		v, ok := parseInetNumber(p)
		if !ok {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	last := len(vals) - 1
	for i, v := range vals[:last] {
		if v > 255 {
			return netip.Addr{}, false
		}
		n |= v << (8 * (3 - i))
	}
	if vals[last] >= 1<<(8*(4-last)) {
		return netip.Addr{}, false
	}
	n |= vals[last]
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

func parseInetNumber(s string) (uint64, bool) {
	base := 10
	switch {
	case s == "":
		return 0, false
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		base, s = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	var v uint64
	for _, c := range s {
		var digit uint64
		switch {
		case c >= '0' && c <= '9':
			digit = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			digit = uint64(c-'a') + 10
		default:
			return 0, false
		}
		if digit >= uint64(base) || v > 1<<32 {
			return 0, false
		}
		v = v*uint64(base) + digit
	}
	return v, true
}

// control is the dialer hook: it sees the address a connection is about to
// be made to, after DNS.
func (d Destinations) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return ErrForbiddenDestination
	}
	return d.CheckAddr(ap.Addr())
}

// Transport is an HTTP transport whose every connection passes CheckAddr.
// It ignores proxy settings: a proxy would make the connection instead, out
// of the check's sight.
func (d Destinations) Transport() *http.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: d.control}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}
