package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// proxy is the one address every bot and the runner call (PUBLIC_URL): it
// spreads requests round-robin over the replicas that are up and tries
// the next one when a replica refuses the connection (killed, restarting).
// It sees every bot's calls, so it is also the witness.
type proxy struct {
	url       string
	srv       *http.Server
	backends  []*replica
	down      []atomic.Bool
	next      atomic.Uint64
	transport *http.Transport
	witness   *witness
}

// maxProxyBody bounds a request body; bot calls and creates are small.
const maxProxyBody = 1 << 20

// proxyPatience is how long a request may wait for some replica to take
// its connection (all of them restarting at once, say).
const proxyPatience = 10 * time.Second

func startProxy(backends []*replica, w *witness) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{url: "http://" + ln.Addr().String(), backends: backends, down: make([]atomic.Bool, len(backends)),
		transport: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second,
			DialContext: (&net.Dialer{Timeout: time.Second}).DialContext},
		witness: w}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *proxy) close() { _ = p.srv.Close() }

// setDown marks a replica down (about to be killed) or up again, and drops
// idle connections, which may point at a dead process.
func (p *proxy) setDown(i int, down bool) {
	p.down[i].Store(down)
	p.transport.CloseIdleConnections()
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxProxyBody))
	if err != nil {
		http.Error(w, "proxy: "+err.Error(), http.StatusBadRequest)
		return
	}
	deadline := time.Now().Add(proxyPatience)
	for r.Context().Err() == nil {
		for range p.backends {
			res, err := p.forward(r, body, p.pick())
			if err == nil {
				p.relay(w, r, res)
				return
			}
			if !refused(err) {
				http.Error(w, "proxy: "+err.Error(), http.StatusBadGateway)
				return
			}
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	http.Error(w, "proxy: no replica takes connections", http.StatusBadGateway)
}

// pick returns the next replica that is up (any, when none is).
func (p *proxy) pick() *replica {
	n := uint64(len(p.backends))
	start := p.next.Add(1)
	for i := range n {
		if j := (start + i) % n; !p.down[j].Load() {
			return p.backends[j]
		}
	}
	return p.backends[start%n]
}

func (p *proxy) forward(r *http.Request, body []byte, to *replica) (*http.Response, error) {
	out, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+to.httpAddr+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out.Header = r.Header.Clone()
	return p.transport.RoundTrip(out)
}

func (p *proxy) relay(w http.ResponseWriter, r *http.Request, res *http.Response) {
	defer res.Body.Close()
	for k, vs := range res.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(res.StatusCode)
	_, _ = io.Copy(w, res.Body)
	p.witness.observe(r, res.StatusCode, time.Now())
}

// refused reports a connection that was never made: nothing reached a
// replica, so another may take the request.
func refused(err error) bool {
	var op *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &op) && op.Op == "dial")
}

// statusClass is "2xx", "4xx", … for counting answers.
func statusClass(code int) string { return strconv.Itoa(code/100) + "xx" }
