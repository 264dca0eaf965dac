package ecssim

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/meeboter/meeboter/pkg/platform/simcontainer"
)

// Causes a Workload's context is cancelled with.
var (
	// ErrStopped: the task is being stopped (StopTask, or ECS stopping it
	// for a Spot interruption and the like); a process gets SIGTERM, then
	// SIGKILL after the stop timeout.
	ErrStopped = errors.New("ecssim: task stopped")
	// ErrCrashed: the container was killed (CrashTask); SIGKILL at once.
	ErrCrashed = fmt.Errorf("ecssim: container crashed: %w", simcontainer.ErrKilled)
	// ErrVanished: the task disappeared (VanishTask); SIGKILL at once.
	ErrVanished = fmt.Errorf("ecssim: task vanished: %w", simcontainer.ErrKilled)
	errClosed   = errors.New("ecssim: simulator closed")
)

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	amzDateForm  = "20060102T150405Z"
	service      = "ecs"
)

func errIncompleteSignature(msg string) *apiError {
	return clientError("IncompleteSignatureException", msg)
}

func errInvalidSignature(msg string) *apiError { return clientError("InvalidSignatureException", msg) }

func errUnrecognizedClient() *apiError {
	return clientError("UnrecognizedClientException", "The security token included in the request is invalid.")
}

// authenticate verifies a request's SigV4 Authorization header the honest
// way: it rebuilds the request with only the headers the client signed and
// signs it again with the SDK's own signer and the one known secret, over
// the body actually received, so a wrong secret and a tampered body or
// signed header both fail.
//
// The signing time is not checked against the clock (AWS allows 15 minutes
// of skew): the simulator's clock may be a test's fake one.
func (s *Sim) authenticate(r *http.Request, body []byte) *apiError {
	header := r.Header.Get("Authorization")
	if header == "" {
		return clientError("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	algorithm, params, _ := strings.Cut(header, " ")
	if algorithm != sigAlgorithm {
		return errIncompleteSignature("Unsupported AWS 'algorithm': '" + algorithm + "'")
	}
	fields := map[string]string{}
	for p := range strings.SplitSeq(params, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		fields[k] = v
	}
	credential, signedHeaders, signature := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	if credential == "" || signedHeaders == "" || signature == "" {
		return errIncompleteSignature("Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.")
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 {
		return errIncompleteSignature("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '" + credential + "'")
	}
	if subtle.ConstantTimeCompare([]byte(scope[0]), []byte(s.cfg.AccessKeyID)) != 1 {
		return errUnrecognizedClient()
	}
	if r.Header.Get("X-Amz-Security-Token") != "" {
		return errUnrecognizedClient() // the simulator knows no session credentials
	}
	signedAt, err := time.Parse(amzDateForm, r.Header.Get("X-Amz-Date"))
	if err != nil {
		return errIncompleteSignature("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	switch {
	case scope[1] != signedAt.Format("20060102"):
		return errInvalidSignature("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" + scope[1] + "' != '" + signedAt.Format("20060102") + "'")
	case scope[2] != s.cfg.Region:
		return errInvalidSignature("Credential should be scoped to a valid region.")
	case scope[3] != service:
		return errInvalidSignature("Credential should be scoped to correct service: '" + service + "'.")
	case scope[4] != "aws4_request":
		return errInvalidSignature("Credential should be scoped with a valid terminator: 'aws4_request', not '" + scope[4] + "'.")
	}
	want, err := s.sign(r, body, signedHeaders, signedAt)
	if err != nil || subtle.ConstantTimeCompare([]byte(want), []byte(signature)) != 1 {
		return errInvalidSignature("The request signature we calculated does not match the signature you provided. " +
			"Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return nil
}

// sign computes the signature r should carry: a clone with just the signed
// headers, signed by the SDK's signer.
func (s *Sim) sign(r *http.Request, body []byte, signedHeaders string, at time.Time) (string, error) {
	clone, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+r.Host+r.URL.RequestURI(), http.NoBody)
	if err != nil {
		return "", err
	}
	clone.Host = r.Host
	for name := range strings.SplitSeq(signedHeaders, ";") {
		switch name {
		case "host": // the signer takes it from clone.Host
		case "content-length": // and this from ContentLength
			clone.ContentLength = r.ContentLength
		default:
			clone.Header[http.CanonicalHeaderKey(name)] = r.Header.Values(name)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: s.cfg.AccessKeyID, SecretAccessKey: s.cfg.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, clone, hex.EncodeToString(sum[:]), service, s.cfg.Region, at); err != nil {
		return "", err
	}
	_, sig, _ := strings.Cut(clone.Header.Get("Authorization"), "Signature=")
	return sig, nil
}
